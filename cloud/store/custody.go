package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Actor is the person a custody action is taken by. People and roles are
// not in the store yet: callers pass who acts, authenticated by them (the
// console, or the operator of the collector command), so a later login
// plugs in at this seam without changing it.
type Actor struct {
	Name string
	Role string // officer, auxiliary, custodian, supervisor, admin
	Unit string // the unit they belong to, where a rule depends on it (export approval)
}

// holdRoles may set and lift legal holds (rule 4).
var holdRoles = map[string]bool{"supervisor": true, "admin": true}

// HoldEvent is one setting or lifting of an object's legal hold.
type HoldEvent struct {
	ObjectID string // the object's id (its SHA-256)
	Held     bool   // true: set; false: lifted
	By       Actor
	Reason   string
	At       time.Time
}

// ErrNotPermitted reports an actor whose role may not take the action.
var ErrNotPermitted = errors.New("store: not permitted")

// ErrHoldState reports setting a hold that is on, or lifting one that is
// off.
var ErrHoldState = errors.New("store: legal hold already in that state")

// CheckHold checks that ev may be recorded, before anything acts on it:
// a supervisor or admin, a reason, a sensible object id.
func CheckHold(ev HoldEvent) error {
	switch {
	case !holdRoles[ev.By.Role]:
		return fmt.Errorf("%w: role %q may not set or lift a legal hold (supervisor or admin)", ErrNotPermitted, ev.By.Role)
	case strings.TrimSpace(ev.By.Name) == "":
		return fmt.Errorf("%w: legal hold without who", ErrArgument)
	case strings.TrimSpace(ev.Reason) == "":
		return fmt.Errorf("%w: legal hold without a reason", ErrArgument)
	case ev.ObjectID == "" || len(ev.ObjectID) > 256:
		return fmt.Errorf("%w: object id length %d", ErrArgument, len(ev.ObjectID))
	}
	if err := cleanText(ev.ObjectID, ev.By.Name, ev.By.Role, ev.Reason); err != nil {
		return fmt.Errorf("%w: legal hold: %w", ErrArgument, err)
	}
	return nil
}

// RecordHold appends a hold event, after CheckHold, if it changes the
// object's state (ErrHoldState otherwise). The history is never edited.
func (s *Store) RecordHold(ctx context.Context, ev HoldEvent) error {
	if err := CheckHold(ev); err != nil {
		return err
	}
	if ev.At.IsZero() {
		ev.At = s.clock.Now()
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var held int64
		err := tx.QueryRowContext(ctx, s.d.q(`SELECT held FROM evidence_holds WHERE object_id = ? ORDER BY id DESC LIMIT 1`),
			ev.ObjectID).Scan(&held)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if (held == 1) == ev.Held {
			return fmt.Errorf("%w: %s held: %v", ErrHoldState, ev.ObjectID, ev.Held)
		}
		h := int64(0)
		if ev.Held {
			h = 1
		}
		_, err = tx.ExecContext(ctx, s.d.q(`INSERT INTO evidence_holds (object_id, held, actor, role, reason, at_ns)
			VALUES (?, ?, ?, ?, ?, ?)`), ev.ObjectID, h, ev.By.Name, ev.By.Role, ev.Reason, ev.At.UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record hold: %w", err)
	}
	return nil
}

// Holds returns the hold history of an object, oldest first; its last
// event says whether it is held.
func (s *Store) Holds(ctx context.Context, objectID string) ([]HoldEvent, error) {
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT object_id, held, actor, role, reason, at_ns FROM evidence_holds
		WHERE object_id = ? ORDER BY id`), objectID)
	if err != nil {
		return nil, fmt.Errorf("store: holds: %w", err)
	}
	defer rs.Close()
	var out []HoldEvent
	for rs.Next() {
		var ev HoldEvent
		var held, at int64
		if err := rs.Scan(&ev.ObjectID, &held, &ev.By.Name, &ev.By.Role, &ev.Reason, &at); err != nil {
			return nil, fmt.Errorf("store: holds: %w", err)
		}
		ev.Held, ev.At = held == 1, time.Unix(0, at).UTC()
		out = append(out, ev)
	}
	return out, rs.Err()
}

// AccessQuery filters the footage access log; zero fields match all.
type AccessQuery struct {
	ObjectID string
	Viewer   string
	Action   string
	Since    time.Time // at or after
	Until    time.Time // before
	// Unit keeps the accesses to footage of this unit (CaseHit.Unit of
	// a segment the object is receipted for); Units, if not nil, those of
	// these units (a supervisor's scope; an empty list finds nothing).
	// Either drops accesses naming no receipted object.
	Unit  string
	Units []string
	Limit int // default 1000
}

// accessUnit is the SQL of "the accessed object is footage of a unit
// that" (the condition follows), for a query over footage_access.
const accessUnit = `EXISTS (SELECT 1 FROM receipts c JOIN segments g ON g.serial = c.device AND g.seq = c.seq
	LEFT JOIN recorders r ON r.serial = g.serial` + footageDocks + `
	WHERE c.object_id = footage_access.object_id AND `

// AccessLog reads the footage access log (who viewed or exported what,
// when, from where, granted or refused), oldest first, for a supervisor
// or an auditor. It only reads: the log is appended to, never edited.
func (s *Store) AccessLog(ctx context.Context, q AccessQuery) ([]FootageAccess, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if q.ObjectID != "" {
		add("object_id = ?", q.ObjectID)
	}
	if q.Viewer != "" {
		add("viewer = ?", q.Viewer)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if q.Unit != "" {
		add(accessUnit+segmentUnit+" = ?)", q.Unit)
	}
	if q.Units != nil {
		var cond []string
		var vs []any
		cond, vs = inList(segmentUnit, q.Units, cond, vs)
		where, args = append(where, accessUnit+cond[0]+")"), append(args, vs...)
	}
	if !q.Since.IsZero() {
		add("at_ns >= ?", q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add("at_ns < ?", q.Until.UnixNano())
	}
	query := `SELECT at_ns, viewer, role, object_id, action, granted, reason, remote FROM footage_access`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.Limit)
	rs, err := s.db.QueryContext(ctx, s.d.q(query+` ORDER BY at_ns, id LIMIT ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: access log: %w", err)
	}
	defer rs.Close()
	var out []FootageAccess
	for rs.Next() {
		var a FootageAccess
		var at, granted int64
		if err := rs.Scan(&at, &a.Viewer, &a.Role, &a.ObjectID, &a.Action, &granted, &a.Reason, &a.Remote); err != nil {
			return nil, fmt.Errorf("store: access log: %w", err)
		}
		a.At, a.Granted = time.Unix(0, at).UTC(), granted != 0
		out = append(out, a)
	}
	return out, rs.Err()
}
