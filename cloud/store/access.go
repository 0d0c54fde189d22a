package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// FootageAccess is one view or export of footage, granted or refused.
type FootageAccess struct {
	At       time.Time
	Viewer   string
	Role     string
	ObjectID string
	Action   string // "view", "export"
	Granted  bool
	Reason   string // why it was refused, or what was served
	Remote   string // client address
}

// RecordAccess appends an access record; the log is append-only.
func (s *Store) RecordAccess(ctx context.Context, a FootageAccess) error {
	if a.At.IsZero() {
		a.At = s.clock.Now()
	}
	if err := cleanText(a.Viewer, a.Role, a.ObjectID, a.Action, a.Reason, a.Remote); err != nil {
		return fmt.Errorf("%w: footage access: %w", ErrArgument, err)
	}
	granted := 0
	if a.Granted {
		granted = 1
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO footage_access (at_ns, viewer, role, object_id, action, granted, reason, remote)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), a.At.UnixNano(), a.Viewer, a.Role, a.ObjectID, a.Action, granted, a.Reason, a.Remote)
		return err
	})
}

// FootageAccesses lists the access records of an object (all objects if
// objectID is empty), oldest first.
func (s *Store) FootageAccesses(ctx context.Context, objectID string, limit int) ([]FootageAccess, error) {
	return s.AccessLog(ctx, AccessQuery{ObjectID: objectID, Limit: limit})
}
