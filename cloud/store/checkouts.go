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

// checkouts writes the batch's checkouts: one row per (serial, tap, dock).
func (w *writer) checkouts(ctx context.Context) error {
	var rows [][]any
	for _, i := range w.fresh {
		b, ok := w.msgs[i].Body.(*wire.Checkout)
		if !ok {
			continue
		}
		rows = append(rows, []any{b.Serial, b.At.UnixNano(), w.msgs[i].Env.Dock, b.Slot, b.Officer, w.now})
	}
	slices.SortFunc(rows, func(a, b []any) int {
		return cmp.Or(cmp.Compare(a[0].(string), b[0].(string)), cmp.Compare(a[1].(int64), b[1].(int64)),
			cmp.Compare(a[2].(string), b[2].(string)))
	})
	rows = slices.CompactFunc(rows, func(a, b []any) bool { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] })
	return w.s.multi(ctx, w.tx, "checkouts", `serial TEXT, at_ns BIGINT, dock TEXT, slot BIGINT, officer TEXT, received_ns BIGINT`,
		`ON CONFLICT (serial, at_ns, dock) DO NOTHING`, rows, nil)
}

// Assignment is a recorder checked out to an officer: from the tap until
// its next docking (Until zero while it has not docked since).
type Assignment struct {
	Serial  string
	Officer string
	Dock    string
	Slot    int
	From    time.Time // dock clock
	Until   time.Time
}

// Assignments lists serial's checkouts tapped in [from, to) (zero bounds
// are open), oldest first. A checkout counts only from the dock the
// recorder was docked in at the tap: the latest health snapshot at or
// before it is that dock's.
func (s *Store) Assignments(ctx context.Context, serial string, from, to time.Time) ([]Assignment, error) {
	m, err := s.AssignmentsOf(ctx, []Span{{serial, from, to}})
	return m[serial], err
}

// AssignmentsOf is Assignments for each span's recorder, in one statement:
// the checkouts by serial.
func (s *Store) AssignmentsOf(ctx context.Context, spans []Span) (map[string][]Assignment, error) {
	rows, err := spanRows(spans)
	if err != nil {
		return nil, fmt.Errorf("store: assignments: %w", err)
	}
	out := make(map[string][]Assignment, len(spans))
	err = s.withRows(ctx, spanCols, rows, `SELECT c.serial, c.officer, c.dock, c.slot, c.at_ns,
		(SELECT MIN(n.docked_ns) FROM device_health n WHERE n.serial = c.serial AND n.docked_ns > c.at_ns)
		FROM w `+s.d.perRow("checkouts", "c", `c.serial = w.serial AND c.at_ns >= w.lo AND c.at_ns < w.hi`)+`
		WHERE c.dock = (SELECT h.dock FROM device_health h WHERE h.serial = c.serial AND h.docked_ns <= c.at_ns
			ORDER BY h.docked_ns DESC, h.dock LIMIT 1)
		ORDER BY c.serial, c.at_ns, c.dock`, nil, func(rs *sql.Rows) error {
		var a Assignment
		var at int64
		var until sql.NullInt64
		if err := rs.Scan(&a.Serial, &a.Officer, &a.Dock, &a.Slot, &at, &until); err != nil {
			return err
		}
		a.From = time.Unix(0, at).UTC()
		if until.Valid {
			a.Until = time.Unix(0, until.Int64).UTC()
		}
		out[a.Serial] = append(out[a.Serial], a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: assignments: %w", err)
	}
	return out, nil
}
