package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// multi runs one multi-row statement, head + " VALUES (?, ...), ... " + tail,
// over rows, in chunks that stay under the engine's placeholder limit. With
// scan non-nil the statement is a query (e.g. with RETURNING) and scan is
// called for each result row.
func (s *Store) multi(ctx context.Context, tx *sql.Tx, head, tail string, rows [][]any, scan func(*sql.Rows) error) error {
	if len(rows) == 0 {
		return nil
	}
	ncols := len(rows[0])
	per := max(1, s.d.maxParams/ncols)
	ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", ncols), ", ") + ")"
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(len(rows), start+per)]
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(" VALUES ")
		args := make([]any, 0, len(chunk)*ncols)
		for i, r := range chunk {
			if len(r) != ncols {
				return fmt.Errorf("store: internal: row of %d values for %d columns", len(r), ncols)
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(ph)
			args = append(args, r...)
		}
		b.WriteByte(' ')
		b.WriteString(tail)
		q := s.d.q(b.String())
		if scan == nil {
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			continue
		}
		rs, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		for rs.Next() {
			if err := scan(rs); err != nil {
				rs.Close()
				return err
			}
		}
		if err := rs.Close(); err != nil {
			return err
		}
		if err := rs.Err(); err != nil {
			return err
		}
	}
	return nil
}

// newerSet renders "col = CASE WHEN <excluded row is newer> THEN excluded.col
// ELSE table.col END" for each col: an upsert that never lets an older,
// redelivered report overwrite a newer one. guard is the column holding the
// report's time; NULL guard on the proposed row never wins.
func newerSet(table, guard string, cols ...string) string {
	cond := fmt.Sprintf("excluded.%[2]s IS NOT NULL AND (%[1]s.%[2]s IS NULL OR excluded.%[2]s >= %[1]s.%[2]s)", table, guard)
	parts := make([]string, 0, len(cols)+1)
	for _, c := range append(cols, guard) {
		parts = append(parts, fmt.Sprintf("%[2]s = CASE WHEN %[3]s THEN excluded.%[2]s ELSE %[1]s.%[2]s END", table, c, cond))
	}
	return strings.Join(parts, ",\n\t")
}
