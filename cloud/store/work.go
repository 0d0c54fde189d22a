package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// Work is a recorder due for judgement, leased to one analyser. Gen is the
// count of changes committed about it when it was leased: Judged clears the
// work only if no change came since.
type Work struct {
	Serial string
	Gen    int64
}

// workSerial names the recorder a committed message is about, "" for the
// dock's own reports (dock and slot state, audit, commands).
func workSerial(body any) string {
	switch b := body.(type) {
	case *wire.SegmentManifest:
		return b.Serial
	case *wire.DeviceHealth:
		return b.Serial
	case *wire.Docking:
		return b.Serial
	}
	return ""
}

// markWork records, in the batch's transaction, that the recorders its
// messages are about changed: due for judgement now. Sorted, as every step
// of commitTx takes its locks.
func (w *writer) markWork(ctx context.Context) error {
	seen := map[string]bool{}
	var serials []string
	for _, i := range w.fresh {
		if sn := workSerial(w.msgs[i].Body); sn != "" && !seen[sn] {
			seen[sn] = true
			serials = append(serials, sn)
		}
	}
	slices.Sort(serials)
	rows := make([][]any, len(serials))
	for i, sn := range serials {
		rows[i] = []any{sn, int64(1), w.now}
	}
	return w.s.multi(ctx, w.tx, "analysis_work", `serial TEXT, gen BIGINT, wake_ns BIGINT`, workUpsert, rows, nil)
}

// workUpsert bumps a recorder's change count and makes it due now, unless
// it was due earlier (the oldest change waits least).
const workUpsert = `ON CONFLICT (serial) DO UPDATE SET gen = analysis_work.gen + 1,
	wake_ns = CASE WHEN analysis_work.wake_ns IS NOT NULL AND analysis_work.wake_ns < excluded.wake_ns
		THEN analysis_work.wake_ns ELSE excluded.wake_ns END`

// markWorkTx is markWork for one recorder, inside tx.
func (s *Store) markWorkTx(ctx context.Context, tx *sql.Tx, serial string, now int64) error {
	_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO analysis_work (serial, gen, wake_ns) VALUES (?, 1, ?) `+workUpsert), serial, now)
	return err
}

// ClaimWork leases to owner, for lease, up to limit recorders due for
// judgement (changed since last judged, or whose next rule deadline came),
// the longest waiting first. A recorder leased to another analyser and not
// expired is skipped: on PostgreSQL the rows are taken with FOR UPDATE SKIP
// LOCKED, so analysers claiming at once split the work without waiting on
// each other; SQLite has one writer, which takes everything due.
func (s *Store) ClaimWork(ctx context.Context, owner string, lease time.Duration, limit int) ([]Work, error) {
	if owner == "" || lease <= 0 || limit <= 0 {
		return nil, fmt.Errorf("%w: claim work: owner %q lease %s limit %d", ErrArgument, owner, lease, limit)
	}
	lock := ""
	if s.d.name == "postgres" {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var out []Work
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		now := s.clock.Now().UnixNano()
		rs, err := tx.QueryContext(ctx, s.d.q(`UPDATE analysis_work SET lease_owner = ?, lease_until_ns = ?
			WHERE serial IN (SELECT serial FROM analysis_work WHERE wake_ns <= ?
				AND (lease_until_ns IS NULL OR lease_until_ns <= ?) ORDER BY wake_ns LIMIT ?`+lock+`)
			RETURNING serial, gen`), owner, now+int64(lease), now, now, limit)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var w Work
			if err := rs.Scan(&w.Serial, &w.Gen); err != nil {
				return err
			}
			out = append(out, w)
		}
		return rs.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim work: %w", err)
	}
	slices.SortFunc(out, func(a, b Work) int { return cmp.Compare(a.Serial, b.Serial) })
	return out, nil
}

// Judgement is a recorder judged: its work as leased, and when it must be
// judged again if nothing changes (zero: not until something does).
type Judgement struct {
	Work
	Next time.Time
}

// Judged ends owner's leases on the judged recorders, in one transaction,
// once their judgements are stored: each sleeps until its Next, unless a
// change came since it was leased, which keeps it due. A lease that
// expired and another analyser holds now is left alone (that one finishes
// the work).
func (s *Store) Judged(ctx context.Context, owner string, done []Judgement) error {
	if len(done) == 0 {
		return nil
	}
	rows := make([][]any, len(done))
	for i, j := range done {
		var wake any
		if !j.Next.IsZero() {
			if !timeOK(j.Next) {
				return fmt.Errorf("%w: judged %s: next %s", ErrArgument, j.Serial, j.Next)
			}
			wake = j.Next.UnixNano()
		}
		rows[i] = []any{j.Serial, j.Gen, wake}
	}
	slices.SortFunc(rows, func(a, b []any) int { return cmp.Compare(a[0].(string), b[0].(string)) })
	cols, err := parseColumns(`serial TEXT, gen BIGINT, wake_ns BIGINT`)
	if err != nil {
		return err
	}
	sel, from := s.d.rowSource(cols)
	js, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("store: judged: %w", err)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.q(`WITH j (serial, gen, wake_ns) AS (SELECT `+sel+` `+from+`)
			UPDATE analysis_work SET wake_ns = CASE WHEN analysis_work.gen = j.gen THEN j.wake_ns ELSE analysis_work.wake_ns END,
			lease_owner = NULL, lease_until_ns = NULL FROM j WHERE analysis_work.serial = j.serial AND analysis_work.lease_owner = ?`),
			string(js), owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: judged %d recorders: %w", len(done), err)
	}
	return nil
}

// RetryWork keeps owner's failed work on serial due, and leased until at:
// no analyser takes it again before then (a failing recorder does not spin
// a pass), and any takes it after.
func (s *Store) RetryWork(ctx context.Context, owner, serial string, at time.Time) error {
	if !timeOK(at) {
		return fmt.Errorf("%w: retry %s at %s", ErrArgument, serial, at)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.q(`UPDATE analysis_work SET lease_until_ns = ? WHERE serial = ? AND lease_owner = ?`),
			at.UnixNano(), serial, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: retry work %s: %w", serial, err)
	}
	return nil
}

// WorkDue counts the recorders due for judgement at the store's now,
// leased or not (for metrics and tests).
func (s *Store) WorkDue(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*) FROM analysis_work WHERE wake_ns <= ?`), s.clock.Now().UnixNano()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: work due: %w", err)
	}
	return n, nil
}

// DevicesOf is Devices limited to serials (those seen; the unknown are
// left out).
func (s *Store) DevicesOf(ctx context.Context, serials []string) ([]Device, error) {
	if len(serials) == 0 {
		return nil, nil
	}
	args := make([]any, len(serials))
	for i, sn := range serials {
		args[i] = sn
	}
	return s.devices(ctx, deviceCols+` WHERE d.serial IN (?`+strings.Repeat(", ?", len(serials)-1)+`)`, args)
}
