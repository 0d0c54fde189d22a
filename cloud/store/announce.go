package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// TrustKinds are the alert kinds raised outside the analysis engine (by
// the upload endpoint and by Commit's screening). Every alert, theirs and
// the engine's, is delivered once: the deliverer claims it
// (ClaimAnnouncement) before sending it, and the engine's pass sweeps
// those nobody claimed yet (Unannounced): one raised by a collector that
// stopped before delivering it is delivered by the next pass.
var TrustKinds = []string{KindRecorderRefused, KindReceiptConflict, KindEchoedReceipt, KindEvidenceCorrupt, KindReportTime,
	KindEventLogConflict}

// ClaimAnnouncement marks the alert key as delivered and reports whether
// this call made the claim: exactly one caller, across collectors, gets
// true for an alert.
func (s *Store) ClaimAnnouncement(ctx context.Context, key string) (bool, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.d.q(`UPDATE alerts SET announced_ns = ? WHERE dedup_key = ? AND announced_ns IS NULL`),
			s.clock.Now().UnixNano(), key)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: claim announcement %q: %w", key, err)
	}
	return n == 1, nil
}

// maxClaimKeys bounds the placeholders of one ClaimAnnouncements statement
// (SQLite's default limit is 32766).
const maxClaimKeys = 500

// ClaimAnnouncements is ClaimAnnouncement for each of keys, in one
// transaction: the keys this call claimed. Exactly one caller, across
// collectors, claims an alert; keys are claimed in sorted order, so
// concurrent batches lock their rows in one order.
func (s *Store) ClaimAnnouncements(ctx context.Context, keys []string) (map[string]bool, error) {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var claimed map[string]bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		claimed = make(map[string]bool, len(sorted)) // a retried transaction starts again
		now := s.clock.Now().UnixNano()
		for start := 0; start < len(sorted); start += maxClaimKeys {
			chunk := sorted[start:min(len(sorted), start+maxClaimKeys)]
			args := []any{now}
			for _, k := range chunk {
				args = append(args, k)
			}
			rs, err := tx.QueryContext(ctx, s.d.q(`UPDATE alerts SET announced_ns = ? WHERE dedup_key IN (?`+
				strings.Repeat(", ?", len(chunk)-1)+`) AND announced_ns IS NULL RETURNING dedup_key`), args...)
			if err != nil {
				return err
			}
			for rs.Next() {
				var k string
				if err := rs.Scan(&k); err != nil {
					rs.Close()
					return err
				}
				claimed[k] = true
			}
			if err := errors.Join(rs.Err(), rs.Close()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim %d announcements: %w", len(sorted), err)
	}
	return claimed, nil
}

// Unannounced lists open alerts that nobody has claimed for delivery yet,
// oldest first, at most limit (<= 0: 1000).
func (s *Store) Unannounced(ctx context.Context, limit int) ([]Alert, error) {
	if limit <= 0 {
		limit = 1000
	}
	q := `SELECT ` + alertCols + ` FROM alerts WHERE announced_ns IS NULL AND state = ? ORDER BY id LIMIT ?`
	args := []any{AlertOpen, limit}
	rs, err := s.db.QueryContext(ctx, s.d.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: unannounced alerts: %w", err)
	}
	defer rs.Close()
	var out []Alert
	for rs.Next() {
		a, err := scanAlert(rs)
		if err != nil {
			return nil, fmt.Errorf("store: unannounced alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: unannounced alerts: %w", err)
	}
	return out, nil
}
