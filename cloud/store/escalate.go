package store

import (
	"context"
	"database/sql"
	"fmt"
)

// EscalateOnce raises an open alert's escalation to level if it is below
// it, and reports whether this call did: of several collectors escalating
// the same alert, exactly one is told to deliver the escalation.
func (s *Store) EscalateOnce(ctx context.Context, id int64, level int) (bool, error) {
	var done bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.q(`UPDATE alerts SET escalation = ?, updated_ns = ?
			WHERE id = ? AND state = ? AND escalation < ?`), level, s.clock.Now().UnixNano(), id, AlertOpen, level)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		done = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: escalate alert %d: %w", id, err)
	}
	return done, nil
}
