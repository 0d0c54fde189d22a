package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// Dock is a dock's enrolment and its latest reported state.
type Dock struct {
	ID         string
	Unit       string
	Enrolled   bool
	EnrolledAt time.Time
	LastSeen   time.Time // collector time of the last committed message
	State      wire.DockState
	StateAt    time.Time // envelope time of the state report; zero if none yet
}

// Slot is a slot's latest reported state.
type Slot struct {
	Dock      string
	State     wire.SlotState
	UpdatedAt time.Time // envelope time of the report
}

// MinTokenLen is the shortest dock token EnrollDock accepts.
const MinTokenLen = 16

// EnrollDock enrols (or re-enrols, rotating its token) a dock for unit, as
// the collector's configuration lists it (enrolled by "config"; the unit
// need not be enrolled). Only the token's SHA-256 is stored.
func (s *Store) EnrollDock(ctx context.Context, id, unit, token string) error {
	if unit != "" {
		if err := wire.ValidID(unit); err != nil {
			return fmt.Errorf("%w: unit: %w", ErrArgument, err)
		}
	}
	return s.enrollDock(ctx, id, unit, token, "config", false)
}

func (s *Store) enrollDock(ctx context.Context, id, unit, token, by string, needUnit bool) error {
	if err := wire.ValidID(id); err != nil {
		return fmt.Errorf("%w: dock: %w", ErrArgument, err)
	}
	if wire.IsCollectorName(id) {
		// A broker that takes certificates' CN as user names and client
		// ids (deploy/cloud/mosquitto.conf) would make this dock a collector.
		return fmt.Errorf("%w: dock id %q is in the collectors' name space (collector, collector-...)", ErrArgument, id)
	}
	if len(token) < MinTokenLen {
		return fmt.Errorf("%w: token shorter than %d bytes", ErrArgument, MinTokenLen)
	}
	sum := sha256.Sum256([]byte(token))
	now := s.clock.Now().UnixNano()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if needUnit {
			if err := unitExists(ctx, s, tx, unit); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO docks (id, unit, enrolled, token_sha256, enrolled_ns, enrolled_by)
			VALUES (?, ?, TRUE, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET unit = excluded.unit, enrolled = TRUE,
				token_sha256 = excluded.token_sha256, enrolled_ns = excluded.enrolled_ns, enrolled_by = excluded.enrolled_by`),
			id, unit, hex.EncodeToString(sum[:]), now, by)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: enroll dock %s: %w", id, err)
	}
	return nil
}

// DockEnrolled reports whether id is an enrolled dock.
func (s *Store) DockEnrolled(ctx context.Context, id string) (bool, error) {
	var enrolled bool
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT enrolled FROM docks WHERE id = ?`), id).Scan(&enrolled)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: dock enrolled: %w", err)
	}
	return enrolled, nil
}

// CheckDockToken reports whether token is the enrolled dock id's token. The
// hashes are compared in constant time; an unknown dock compares against a
// dummy so its answer takes as long.
func (s *Store) CheckDockToken(ctx context.Context, id, token string) (bool, error) {
	var stored string
	var enrolled bool
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT token_sha256, enrolled FROM docks WHERE id = ?`), id).Scan(&stored, &enrolled)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("store: check dock token: %w", err)
	}
	want, derr := hex.DecodeString(stored)
	if err != nil || derr != nil || len(want) != sha256.Size {
		want = make([]byte, sha256.Size)
		enrolled = false
	}
	got := sha256.Sum256([]byte(token))
	ok := subtle.ConstantTimeCompare(got[:], want) == 1
	return ok && enrolled, nil
}

// Docks lists every dock, enrolled or only seen, by id.
func (s *Store) Docks(ctx context.Context) ([]Dock, error) {
	return s.DocksIn(ctx, nil)
}

// unitsIn is a " WHERE col IN (...)" clause for units (nil: none needed)
// and its arguments.
func unitsIn(col string, units []string) (string, []any) {
	if units == nil {
		return "", nil
	}
	args := make([]any, len(units))
	for i, u := range units {
		args[i] = u
	}
	return ` WHERE ` + col + ` IN (?` + strings.Repeat(", ?", len(units)-1) + `)`, args
}

// DocksIn is Docks limited to the docks of units (nil: all; an empty
// list: none).
func (s *Store) DocksIn(ctx context.Context, units []string) ([]Dock, error) {
	if units != nil && len(units) == 0 {
		return nil, nil
	}
	where, args := unitsIn("unit", units)
	return s.docks(ctx, where+` ORDER BY id`, args...)
}

// docks reads the docks of a WHERE ... ORDER BY ... clause.
func (s *Store) docks(ctx context.Context, where string, args ...any) ([]Dock, error) {
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT id, unit, enrolled, enrolled_ns, last_seen_ns, state, version, slot_count,
		buffer_bytes, buffer_capacity, backlog_segments, backlog_bytes, oldest_backlog_ns, state_ns FROM docks`+where), args...)
	if err != nil {
		return nil, fmt.Errorf("store: docks: %w", err)
	}
	defer rs.Close()
	var out []Dock
	for rs.Next() {
		var d Dock
		var enr, seen, oldest, st sql.NullInt64
		if err := rs.Scan(&d.ID, &d.Unit, &d.Enrolled, &enr, &seen, &d.State.State, &d.State.Version, &d.State.Slots,
			&d.State.BufferBytes, &d.State.BufferCapacity, &d.State.BacklogSegments, &d.State.BacklogBytes,
			&oldest, &st); err != nil {
			return nil, fmt.Errorf("store: docks: %w", err)
		}
		d.EnrolledAt, d.LastSeen, d.State.OldestBacklog, d.StateAt = fromNS(enr), fromNS(seen), fromNS(oldest), fromNS(st)
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: docks: %w", err)
	}
	return out, nil
}

// Slots lists a dock's slots by number ("" lists every dock's).
func (s *Store) Slots(ctx context.Context, dock string) ([]Slot, error) {
	return s.slots(ctx, `WHERE ? = '' OR dock = ?`, dock, dock)
}

// SlotsIn lists the slots of the docks of units (nil: all; an empty list:
// none) by dock and number.
func (s *Store) SlotsIn(ctx context.Context, units []string) ([]Slot, error) {
	if units == nil {
		return s.Slots(ctx, "")
	}
	if len(units) == 0 {
		return nil, nil
	}
	where, args := unitsIn("unit", units)
	return s.slots(ctx, `WHERE dock IN (SELECT id FROM docks`+where+`)`, args...)
}

func (s *Store) slots(ctx context.Context, where string, args ...any) ([]Slot, error) {
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT dock, slot, state, serial, fault, detail, segments, copied, uploaded,
		released, bytes_total, bytes_copied, charging, updated_ns FROM slots `+where+` ORDER BY dock, slot`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: slots: %w", err)
	}
	defer rs.Close()
	var out []Slot
	for rs.Next() {
		var sl Slot
		var up int64
		b := &sl.State
		if err := rs.Scan(&sl.Dock, &b.Slot, &b.State, &b.Serial, &b.Fault, &b.Detail, &b.Segments, &b.Copied,
			&b.Uploaded, &b.Released, &b.BytesTotal, &b.BytesCopied, &b.Charging, &up); err != nil {
			return nil, fmt.Errorf("store: slots: %w", err)
		}
		sl.UpdatedAt = time.Unix(0, up).UTC()
		out = append(out, sl)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: slots: %w", err)
	}
	return out, nil
}
