package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// maxRowsPerStatement bounds one statement's JSON parameter (a few MB).
const maxRowsPerStatement = 5000

// column is a typed column of a multi-row insert.
type column struct{ name, typ string }

// parseColumns reads "name TYPE, name TYPE, ..." (types of two words, like
// DOUBLE PRECISION, allowed).
func parseColumns(typed string) ([]column, error) {
	var cols []column
	for part := range strings.SplitSeq(typed, ",") {
		f := strings.Fields(part)
		if len(f) < 2 {
			return nil, fmt.Errorf("store: internal: column %q has no type", part)
		}
		cols = append(cols, column{f[0], strings.Join(f[1:], " ")})
	}
	return cols, nil
}

// rowSource returns the select list and FROM clause that read the rows of
// one JSON parameter (an array of arrays, one per row, values in column
// order), in order. This is the batch path's one dialect difference: a
// single JSON parameter costs PostgreSQL far less to parse and plan than
// thousands of placeholders (measured: 400 segment rows in ~5 ms instead of
// ~40 ms), and SQLite reads it with its built-in JSON functions.
func (d dialect) rowSource(cols []column) (sel, from string) {
	exprs := make([]string, len(cols))
	for i, c := range cols {
		if d.dollar {
			exprs[i] = fmt.Sprintf("CAST(x.r ->> %d AS %s)", i, c.typ)
		} else {
			// SQLite's ->> yields the SQL value (JSON true is 1); the
			// column's affinity does the rest.
			exprs[i] = fmt.Sprintf("x.value ->> %d", i)
		}
	}
	if d.dollar {
		from = "FROM jsonb_array_elements(CAST(? AS jsonb)) WITH ORDINALITY AS x(r, n) WHERE true ORDER BY x.n"
	} else {
		from = "FROM json_each(?) AS x WHERE true ORDER BY x.key"
	}
	return strings.Join(exprs, ", "), from
}

// rowSourceOf parses typed ("id TEXT, n BIGINT") into its columns, their
// names joined for a column list, and the dialect's row source over one
// JSON parameter ("<select list> <from>"), for multi and withRows.
func (s *Store) rowSourceOf(typed string) (cols []column, names, source string, err error) {
	if cols, err = parseColumns(typed); err != nil {
		return nil, "", "", err
	}
	n := make([]string, len(cols))
	for i, c := range cols {
		n[i] = c.name
	}
	sel, from := s.d.rowSource(cols)
	return cols, strings.Join(n, ", "), sel + " " + from, nil
}

// multi inserts rows with one statement per maxRowsPerStatement rows:
//
//	INSERT INTO table (cols) SELECT <row source> <tail>
//
// typed lists the columns with their SQL types ("id TEXT, n BIGINT"); the
// rows are passed as one JSON parameter, so values are always bound, never
// spliced. With scan non-nil the statement is a query (tail has RETURNING)
// and scan is called for each result row. Rows go in the given order, which
// Commit keeps sorted so concurrent transactions lock rows in one order.
func (s *Store) multi(ctx context.Context, tx *sql.Tx, table, typed, tail string, rows [][]any, scan func(*sql.Rows) error) error {
	if len(rows) == 0 {
		return nil
	}
	cols, names, source, err := s.rowSourceOf(typed)
	if err != nil {
		return err
	}
	q := s.d.q("INSERT INTO " + table + " (" + names + ") SELECT " + source + " " + tail)
	for start := 0; start < len(rows); start += maxRowsPerStatement {
		chunk := rows[start:min(len(rows), start+maxRowsPerStatement)]
		for _, r := range chunk {
			if len(r) != len(cols) {
				return fmt.Errorf("store: internal: row of %d values for %d columns of %s", len(r), len(cols), table)
			}
		}
		js, err := json.Marshal(chunk)
		if err != nil {
			return fmt.Errorf("store: encode %s rows: %w", table, err)
		}
		if scan == nil {
			if _, err := tx.ExecContext(ctx, q, string(js)); err != nil {
				return err
			}
			continue
		}
		rs, err := tx.QueryContext(ctx, q, string(js))
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
	return newerSetIf(table, guard, "", cols...)
}

// newerSetIf is newerSet with an extra condition the proposed row must meet.
func newerSetIf(table, guard, extra string, cols ...string) string {
	cond := fmt.Sprintf("excluded.%[2]s IS NOT NULL AND (%[1]s.%[2]s IS NULL OR excluded.%[2]s >= %[1]s.%[2]s)", table, guard)
	if extra != "" {
		cond += " AND " + extra
	}
	parts := make([]string, 0, len(cols)+1)
	for _, c := range append(cols, guard) {
		parts = append(parts, fmt.Sprintf("%[2]s = CASE WHEN %[3]s THEN excluded.%[2]s ELSE %[1]s.%[2]s END", table, c, cond))
	}
	return strings.Join(parts, ",\n\t")
}

// withRowsSQL is the statement withRows runs for typed and query (its
// first parameter the JSON rows), placeholders rewritten for the engine.
func (s *Store) withRowsSQL(typed, query string) (string, error) {
	_, names, source, err := s.rowSourceOf(typed)
	if err != nil {
		return "", err
	}
	return s.d.q("WITH w (" + names + ") AS (SELECT " + source + ") " + query), nil
}

// withRows runs query once per maxRowsPerStatement rows, prefixed with
//
//	WITH w (cols) AS (SELECT <row source>)
//
// so query reads the rows as table w (typed as for multi: "serial TEXT,
// lo BIGINT"), and calls scan for each result row. The rows are one JSON
// parameter, bound before args: a read about a batch of recorders costs one
// statement, whatever its size and on either engine (no placeholder list
// to outgrow SQLite's variable limit). query should join w first (w CROSS
// JOIN t WHERE t.k = w.k): SQLite then reads w outermost and t by its
// index. query may go on with the WITH clause (", m AS (...) SELECT ...").
func (s *Store) withRows(ctx context.Context, typed string, rows [][]any, query string, args []any, scan func(*sql.Rows) error) error {
	return s.withRowsOn(ctx, s.db, typed, rows, query, args, scan)
}

// withRowsOn is withRows on db (a transaction's reads).
func (s *Store) withRowsOn(ctx context.Context, db rowsQuerier, typed string, rows [][]any, query string, args []any, scan func(*sql.Rows) error) error {
	if len(rows) == 0 {
		return nil
	}
	q, err := s.withRowsSQL(typed, query)
	if err != nil {
		return err
	}
	for start := 0; start < len(rows); start += maxRowsPerStatement {
		chunk := rows[start:min(len(rows), start+maxRowsPerStatement)]
		js, err := json.Marshal(chunk)
		if err != nil {
			return fmt.Errorf("store: encode rows: %w", err)
		}
		rs, err := db.QueryContext(ctx, q, append([]any{string(js)}, args...)...)
		if err != nil {
			return err
		}
		for rs.Next() {
			if err := scan(rs); err != nil {
				rs.Close()
				return err
			}
		}
		if err := errors.Join(rs.Err(), rs.Close()); err != nil {
			return err
		}
	}
	return nil
}
