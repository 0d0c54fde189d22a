package store

import (
	"context"
	"database/sql"
	"fmt"
)

// TrustKinds are the alert kinds raised outside the analysis engine (by
// the upload endpoint and by Commit's screening). Every alert, theirs and
// the engine's, is delivered once: the deliverer claims it
// (ClaimAnnouncement) before sending it, and the engine's pass sweeps
// those nobody claimed yet (Unannounced): one raised by a collector that
// stopped before delivering it is delivered by the next pass.
var TrustKinds = []string{KindRecorderRefused, KindReceiptConflict, KindEchoedReceipt, KindEvidenceCorrupt, KindReportTime}

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
