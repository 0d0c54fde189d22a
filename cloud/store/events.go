package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// eventRead is one entry of a recorder's event log as one docking read it.
type eventRead struct {
	serial       string
	idx          int64
	dock         string
	docked, at   int64 // Unix ns: the docking, the device's time of the event
	kind, detail string
	seq          int64
}

// same reports whether two reads of one entry say the same.
func (r eventRead) same(o eventRead) bool {
	return r.at == o.at && r.kind == o.kind && r.seq == o.seq && r.detail == o.detail
}

// entryKey names an entry of a recorder's event log.
type entryKey struct {
	serial string
	idx    int64
}

// events writes the batch's recorder events (wire.RecorderEvents): one row
// per event and docking, never updated. An entry's first stored read is
// the one the analysis uses. A recorder never rewrites its log (DockLink
// §10.3), so a later read of an entry that says otherwise (another dock,
// another docking, the same one sent again) is not dropped: it is kept in
// recorder_event_conflicts, logged, counted and raised as an
// event-log-conflict alert to the recorder's unit, and changes nothing
// the analysis reads. A read that agrees is the normal case (a dock that
// lost its place, a recorder docked elsewhere) and says nothing.
func (w *writer) events(ctx context.Context) error {
	var reads []eventRead // in batch order: the first read of an entry comes first
	for _, i := range w.fresh {
		b, ok := w.msgs[i].Body.(*wire.RecorderEvents)
		if !ok {
			continue
		}
		for _, e := range b.Events {
			reads = append(reads, eventRead{serial: b.Serial, idx: int64(e.Index), dock: w.msgs[i].Env.Dock,
				docked: b.DockedAt.UnixNano(), at: e.Time.UnixNano(), kind: e.Kind, seq: int64(e.Seq), detail: e.Detail})
		}
	}
	if len(reads) == 0 {
		return nil
	}
	first, err := w.firstReads(ctx, reads)
	if err != nil {
		return fmt.Errorf("first reads: %w", err)
	}
	var rows, conflicts [][]any
	for _, r := range reads {
		k := entryKey{r.serial, r.idx}
		f, seen := first[k]
		switch {
		case !seen:
			first[k] = r
		case !f.same(r):
			conflicts = append(conflicts, []any{r.serial, r.idx, r.dock, r.docked, r.at, r.kind, r.seq, r.detail, w.now,
				f.dock, f.docked})
			continue
		}
		rows = append(rows, []any{r.serial, r.idx, r.dock, r.docked, r.at, r.kind, r.seq, r.detail, w.now})
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
	if err := w.s.multi(ctx, w.tx, "recorder_events", `serial TEXT, idx BIGINT, dock TEXT, docked_ns BIGINT, event_ns BIGINT,
		kind TEXT, seq BIGINT, detail TEXT, received_ns BIGINT`,
		`ON CONFLICT (serial, idx, dock, docked_ns) DO NOTHING`, rows, nil); err != nil {
		return err
	}
	return w.eventConflicts(ctx, conflicts)
}

// firstReads returns the first stored read of each entry the reads name
// (recorder_events: earliest received, then docking, then dock). On
// PostgreSQL the batch first takes a transaction-scoped advisory lock per
// recorder, in serial order (after the spans step's row locks, before the
// checkouts'), so two collectors committing reads of one entry at once
// compare one with the other instead of both storing theirs as first:
// under READ COMMITTED the read after the lock sees the other's commit.
// SQLite has one writer.
func (w *writer) firstReads(ctx context.Context, reads []eventRead) (map[entryKey]eventRead, error) {
	var serials []string
	keys := make([][]any, 0, len(reads))
	for _, r := range reads {
		serials = append(serials, r.serial)
		keys = append(keys, []any{r.serial, r.idx})
	}
	slices.Sort(serials)
	serials = slices.Compact(serials)
	if w.s.d.name == "postgres" {
		if err := w.lockEventLogs(ctx, serials); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(keys, func(a, b []any) int {
		return cmp.Or(cmp.Compare(a[0].(string), b[0].(string)), cmp.Compare(a[1].(int64), b[1].(int64)))
	})
	keys = slices.CompactFunc(keys, func(a, b []any) bool { return a[0] == b[0] && a[1] == b[1] })
	out := map[entryKey]eventRead{}
	err := w.s.withRowsOn(ctx, w.tx, `serial TEXT, idx BIGINT`, keys, `SELECT e.serial, e.idx, e.dock, e.docked_ns, e.event_ns,
		e.kind, e.seq, e.detail FROM w CROSS JOIN recorder_events e WHERE e.serial = w.serial AND e.idx = w.idx
		ORDER BY e.serial, e.idx, e.received_ns, e.docked_ns, e.dock`, nil, func(rs *sql.Rows) error {
		var r eventRead
		if err := rs.Scan(&r.serial, &r.idx, &r.dock, &r.docked, &r.at, &r.kind, &r.seq, &r.detail); err != nil {
			return err
		}
		if _, seen := out[entryKey{r.serial, r.idx}]; !seen {
			out[entryKey{r.serial, r.idx}] = r
		}
		return nil
	})
	return out, err
}

// lockEventLogs takes the transaction-scoped advisory lock of each of
// serials' event logs (PostgreSQL), in the order given (sorted): one
// statement for the batch, whatever its recorders, each row's lock taken
// in the rows' order (the row source's ORDER BY, before the select list's
// volatile function).
func (w *writer) lockEventLogs(ctx context.Context, serials []string) error {
	sel, from := w.s.d.rowSource([]column{{"serial", "TEXT"}})
	stmt := w.s.d.q(`SELECT pg_advisory_xact_lock(hashtext('berth.recorder_events'), hashtext(` + sel + `)) ` + from)
	for start := 0; start < len(serials); start += maxRowsPerStatement {
		chunk := serials[start:min(len(serials), start+maxRowsPerStatement)]
		rows := make([][]any, len(chunk))
		for i, sn := range chunk {
			rows[i] = []any{sn}
		}
		js, err := json.Marshal(rows)
		if err != nil {
			return fmt.Errorf("lock: encode serials: %w", err)
		}
		if _, err := w.tx.ExecContext(ctx, stmt, string(js)); err != nil {
			return fmt.Errorf("lock %s..%s: %w", chunk[0], chunk[len(chunk)-1], err)
		}
	}
	return nil
}

// maxConflictsShown bounds the entries an event-log-conflict alert's
// detail spells out; the table keeps them all.
const maxConflictsShown = 5

// eventConflicts keeps the conflicting reads (rows of
// recorder_event_conflicts) and, for those not kept before (a
// redelivery is silent), logs each, counts it under KindEventLogConflict
// (Store.Refused) and raises one alert per recorder and conflicting
// docking, naming both docks and the entries.
func (w *writer) eventConflicts(ctx context.Context, conflicts [][]any) error {
	if len(conflicts) == 0 {
		return nil
	}
	slices.SortFunc(conflicts, func(a, b []any) int {
		return cmp.Or(cmp.Compare(a[0].(string), b[0].(string)), cmp.Compare(a[1].(int64), b[1].(int64)),
			cmp.Compare(a[2].(string), b[2].(string)), cmp.Compare(a[3].(int64), b[3].(int64)),
			cmp.Compare(a[4].(int64), b[4].(int64)), cmp.Compare(a[5].(string), b[5].(string)),
			cmp.Compare(a[6].(int64), b[6].(int64)), cmp.Compare(a[7].(string), b[7].(string)))
	})
	conflicts = slices.CompactFunc(conflicts, func(a, b []any) bool { return slices.Equal(a[:8], b[:8]) })
	type docking struct {
		serial, dock string
		docked       int64
	}
	fresh := map[docking]int{}
	var order []docking
	err := w.s.multi(ctx, w.tx, "recorder_event_conflicts", `serial TEXT, idx BIGINT, dock TEXT, docked_ns BIGINT,
		event_ns BIGINT, kind TEXT, seq BIGINT, detail TEXT, received_ns BIGINT, first_dock TEXT, first_docked_ns BIGINT`,
		`ON CONFLICT (serial, idx, dock, docked_ns, event_ns, kind, seq, detail) DO NOTHING
		RETURNING serial, idx, dock, docked_ns, first_dock, first_docked_ns`, conflicts, func(rs *sql.Rows) error {
			var d docking
			var idx, firstDocked int64
			var firstDock string
			if err := rs.Scan(&d.serial, &idx, &d.dock, &d.docked, &firstDock, &firstDocked); err != nil {
				return err
			}
			w.s.log.Warn("store: event-log entry read differently from its first read; kept aside", "serial", d.serial,
				"index", idx, "dock", d.dock, "docked_at", time.Unix(0, d.docked).UTC(), "first_dock", firstDock,
				"first_docked_at", time.Unix(0, firstDocked).UTC())
			if _, seen := fresh[d]; !seen {
				order = append(order, d)
			}
			fresh[d]++
			return nil
		})
	if err != nil {
		return fmt.Errorf("conflicts: %w", err)
	}
	if len(fresh) == 0 {
		return nil
	}
	if w.refused == nil {
		w.refused = map[string]int{}
	}
	slices.SortFunc(order, func(a, b docking) int {
		return cmp.Or(cmp.Compare(a.serial, b.serial), cmp.Compare(a.dock, b.dock), cmp.Compare(a.docked, b.docked))
	})
	for _, d := range order {
		w.refused[KindEventLogConflict] += fresh[d]
		if err := w.eventConflictAlert(ctx, d.serial, d.dock, d.docked); err != nil {
			return fmt.Errorf("alert: %w", err)
		}
	}
	return nil
}

// eventConflictAlert raises (or refreshes, as more parts of the read
// arrive) the event-log-conflict alert of serial's log as dock read it at
// the docking at docked: every entry of that read kept aside, beside the
// first read each contradicts.
func (w *writer) eventConflictAlert(ctx context.Context, serial, dock string, docked int64) error {
	type entry struct {
		idx         int64
		got, was    string
		firstDock   string
		firstDocked int64
	}
	var es []entry
	rs, err := w.tx.QueryContext(ctx, w.s.d.q(`SELECT c.idx, c.event_ns, c.kind, c.seq, c.detail, c.first_dock, c.first_docked_ns,
		f.event_ns, f.kind, f.seq, f.detail
		FROM recorder_event_conflicts c JOIN recorder_events f ON f.serial = c.serial AND f.idx = c.idx
			AND f.dock = c.first_dock AND f.docked_ns = c.first_docked_ns
		WHERE c.serial = ? AND c.dock = ? AND c.docked_ns = ?
		ORDER BY c.idx, c.event_ns, c.kind, c.seq, c.detail`), serial, dock, docked)
	if err != nil {
		return err
	}
	for rs.Next() {
		var e entry
		var c, f eventRead
		if err := rs.Scan(&e.idx, &c.at, &c.kind, &c.seq, &c.detail, &e.firstDock, &e.firstDocked,
			&f.at, &f.kind, &f.seq, &f.detail); err != nil {
			rs.Close()
			return err
		}
		e.got, e.was = c.describe(), f.describe()
		es = append(es, e)
	}
	if err := errors.Join(rs.Err(), rs.Close()); err != nil {
		return err
	}
	if len(es) == 0 {
		return fmt.Errorf("store: internal: no conflicting reads of %s by %s at %d", serial, dock, docked)
	}
	unit := w.enrolledUnit[serial]
	if unit == "" {
		if err := w.tx.QueryRowContext(ctx, w.s.d.q(`SELECT COALESCE((SELECT unit FROM recorders WHERE serial = ?),
			(SELECT unit FROM docks WHERE id = ?), '')`), serial, dock).Scan(&unit); err != nil {
			return err
		}
	}
	if unit == "" {
		unit = "unassigned"
	}
	at := time.Unix(0, docked).UTC()
	var b strings.Builder
	fmt.Fprintf(&b, "dock %s, docking at %s, read %d of recorder %s's event-log entries otherwise than they were first read:",
		dock, at.Format(time.RFC3339Nano), len(es), serial)
	for i, e := range es[:min(len(es), maxConflictsShown)] {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " entry %d read as %s, first read by dock %s docking at %s as %s", e.idx, e.got, e.firstDock,
			time.Unix(0, e.firstDocked).UTC().Format(time.RFC3339Nano), e.was)
	}
	if n := len(es) - maxConflictsShown; n > 0 {
		fmt.Fprintf(&b, "; and %d more", n)
	}
	b.WriteString(". The recorder never rewrites its log: a fault or tampering. The first reads stand; these are kept aside")
	firstDocks := map[string]bool{}
	var names []string
	for _, e := range es {
		if !firstDocks[e.firstDock] {
			firstDocks[e.firstDock] = true
			names = append(names, e.firstDock)
		}
	}
	slices.Sort(names)
	_, err = w.s.upsertAlertTx(ctx, w.tx, Alert{Key: fmt.Sprintf("%s/%s/%s/%d", KindEventLogConflict, serial, dock, docked),
		Kind: KindEventLogConflict, Severity: "warning", Unit: unit, Serial: serial, Dock: dock,
		Title: fmt.Sprintf("Recorder %s's event log: dock %s's read contradicts the first read by dock %s (entries: %d)", serial,
			dock, strings.Join(names, ", "), len(es)),
		Detail: b.String(), At: time.Unix(0, w.now).UTC()}, "{}")
	return err
}

// describe renders a read for an alert (the texts passed check: clean
// UTF-8; %.80q bounds the detail).
func (r eventRead) describe() string {
	s := fmt.Sprintf("%s at %s", r.kind, time.Unix(0, r.at).UTC().Format(time.RFC3339Nano))
	if r.seq != 0 {
		s += fmt.Sprintf(" seq %d", r.seq)
	}
	if r.detail != "" {
		s += fmt.Sprintf(" %.80q", r.detail)
	}
	return s
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
	// Disputed: another read of this entry said otherwise (an
	// event-log-conflict alert); this is the first read, which stands.
	Disputed bool
}

// RecorderEvents lists serial's events whose device time is in [from, to)
// (zero bounds are open), by index. Only events read at a docking that the
// same dock reported (its device.health snapshot) count: a dock's word on
// a recorder's log is taken only for a recorder docked in it. An event read
// at two dockings (a dock that restarted before saving its place) is
// listed once, as first read; one that another read contradicted is
// listed as first stored, marked Disputed.
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
	err = s.withRows(ctx, spanCols, rows, `SELECT e.serial, e.idx, e.event_ns, e.kind, e.seq, e.detail, e.dock, e.docked_ns,
		EXISTS (SELECT 1 FROM recorder_event_conflicts c WHERE c.serial = e.serial AND c.idx = e.idx)
		FROM w `+s.d.perRow("recorder_events", "e", `e.serial = w.serial AND e.event_ns >= w.lo AND e.event_ns < w.hi`)+`
		WHERE EXISTS (SELECT 1 FROM device_health h WHERE h.serial = e.serial AND h.docked_ns = e.docked_ns AND h.dock = e.dock)
		ORDER BY e.serial, e.idx, e.docked_ns, e.dock`, nil, func(rs *sql.Rows) error {
		var v RecorderEvent
		var serial string
		var idx, at, seq, dn int64
		if err := rs.Scan(&serial, &idx, &at, &v.Kind, &seq, &v.Detail, &v.Dock, &dn, &v.Disputed); err != nil {
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
