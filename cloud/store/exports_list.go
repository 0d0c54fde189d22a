package store

import (
	"context"
	"fmt"
	"strings"
)

// ExportFilter selects exports; zero fields match all.
type ExportFilter struct {
	Units []string // nil: every unit; empty: none
	State string   // the export's current state
	By    string   // the requester
	Limit int      // default 200, newest first
}

// Exports lists exports with their items and history, newest first: a
// supervisor's approvals (State requested in their Units) and a
// requester's own.
func (s *Store) Exports(ctx context.Context, f ExportFilter) ([]Export, error) {
	if f.Units != nil && len(f.Units) == 0 {
		return nil, nil
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	var where []string
	var args []any
	if f.Units != nil {
		where = append(where, "unit IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Units)), ", ")+")")
		for _, u := range f.Units {
			args = append(args, u)
		}
	}
	if f.By != "" {
		where = append(where, "requested_by = ?")
		args = append(args, f.By)
	}
	if f.State != "" {
		// The current state is the newest event's.
		where = append(where, `(SELECT e.state FROM export_events e WHERE e.export_id = exports.id ORDER BY e.id DESC LIMIT 1) = ?`)
		args = append(args, f.State)
	}
	q := `SELECT id FROM exports`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	rs, err := s.db.QueryContext(ctx, s.d.q(q+` ORDER BY id DESC LIMIT ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: exports: %w", err)
	}
	var ids []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return nil, fmt.Errorf("store: exports: %w", err)
		}
		ids = append(ids, id)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: exports: %w", err)
	}
	out := make([]Export, 0, len(ids))
	for _, id := range ids {
		e, err := s.export(ctx, s.db, id)
		if err != nil {
			return nil, fmt.Errorf("store: exports: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}
