package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// events writes the batch's recorder events (wire.RecorderEvents): one row
// per event and docking, never updated.
func (w *writer) events(ctx context.Context) error {
	var rows [][]any
	for _, i := range w.fresh {
		b, ok := w.msgs[i].Body.(*wire.RecorderEvents)
		if !ok {
			continue
		}
		dn := b.DockedAt.UnixNano()
		for _, e := range b.Events {
			rows = append(rows, []any{b.Serial, int64(e.Index), w.msgs[i].Env.Dock, dn, e.Time.UnixNano(), e.Kind,
				int64(e.Seq), e.Detail, w.now})
		}
	}
	// One statement may not touch a row twice (PostgreSQL), and locks go
	// in key order.
	slices.SortFunc(rows, func(a, b []any) int {
		return cmp.Or(cmp.Compare(a[0].(string), b[0].(string)), cmp.Compare(a[1].(int64), b[1].(int64)),
			cmp.Compare(a[2].(string), b[2].(string)), cmp.Compare(a[3].(int64), b[3].(int64)))
	})
	rows = slices.CompactFunc(rows, func(a, b []any) bool {
		return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3]
	})
	return w.s.multi(ctx, w.tx, "recorder_events", `serial TEXT, idx BIGINT, dock TEXT, docked_ns BIGINT, event_ns BIGINT,
		kind TEXT, seq BIGINT, detail TEXT, received_ns BIGINT`,
		`ON CONFLICT (serial, idx, dock, docked_ns) DO NOTHING`, rows, nil)
}

// RecorderEvent is one entry of a recorder's event log as the collector
// holds it.
type RecorderEvent struct {
	Index    uint64
	Time     time.Time // device clock
	Kind     string
	Seq      uint64
	Detail   string
	Dock     string    // the dock that read it
	DockedAt time.Time // at that docking
}

// RecorderEvents lists serial's events whose device time is in [from, to)
// (zero bounds are open), by index. Only events read at a docking that the
// same dock reported (its device.health snapshot) count: a dock's word on
// a recorder's log is taken only for a recorder docked in it. An event read
// at two dockings (a dock that restarted before saving its place) is
// listed once, as first read.
func (s *Store) RecorderEvents(ctx context.Context, serial string, from, to time.Time) ([]RecorderEvent, error) {
	m, err := s.RecorderEventsOf(ctx, []Span{{serial, from, to}})
	return m[serial], err
}

// RecorderEventsOf is RecorderEvents for each span's recorder, in one
// statement: the events by serial.
func (s *Store) RecorderEventsOf(ctx context.Context, spans []Span) (map[string][]RecorderEvent, error) {
	rows, err := spanRows(spans)
	if err != nil {
		return nil, fmt.Errorf("store: recorder events: %w", err)
	}
	out := make(map[string][]RecorderEvent, len(spans))
	err = s.withRows(ctx, spanCols, rows, `SELECT e.serial, e.idx, e.event_ns, e.kind, e.seq, e.detail, e.dock, e.docked_ns
		FROM w `+s.d.perRow("recorder_events", "e", `e.serial = w.serial AND e.event_ns >= w.lo AND e.event_ns < w.hi`)+`
		WHERE EXISTS (SELECT 1 FROM device_health h WHERE h.serial = e.serial AND h.docked_ns = e.docked_ns AND h.dock = e.dock)
		ORDER BY e.serial, e.idx, e.docked_ns, e.dock`, nil, func(rs *sql.Rows) error {
		var v RecorderEvent
		var serial string
		var idx, at, seq, dn int64
		if err := rs.Scan(&serial, &idx, &at, &v.Kind, &seq, &v.Detail, &v.Dock, &dn); err != nil {
			return err
		}
		got := out[serial]
		if n := len(got); n > 0 && got[n-1].Index == uint64(idx) {
			return nil
		}
		v.Index, v.Seq = uint64(idx), uint64(seq)
		v.Time, v.DockedAt = time.Unix(0, at).UTC(), time.Unix(0, dn).UTC()
		out[serial] = append(got, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: recorder events: %w", err)
	}
	return out, nil
}
