package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// HoleRelease is a supervisor's decision that a recorder's receipted
// segments may be released around a sequence hole (its missing From..To),
// the hole's alert, who decided, in which role, when and why.
type HoleRelease struct {
	Serial string    `json:"serial"`
	From   uint64    `json:"from"`
	To     uint64    `json:"to"`
	Alert  int64     `json:"alert"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	Role   string    `json:"role"`
	At     time.Time `json:"at"`
}

// kindSequenceHole is the timeline's word for a hole (timeline imports
// the store, not the reverse); a lost tail is keyed as a hole too.
const kindSequenceHole = "sequence-hole"

// ReleaseHoles records a's decision, with reason, that serial's standing
// sequence holes (its open or acknowledged sequence-hole alerts) no longer
// withhold the release of its receipted segments, and adds it to each
// hole alert's history. Only a supervisor decides; a recorder without a
// standing hole is ErrNotFound. It returns the decisions recorded, one per
// hole, for the dock to be told.
func (s *Store) ReleaseHoles(ctx context.Context, a Actor, serial, reason string) ([]HoleRelease, error) {
	switch {
	case a.Role != "supervisor":
		return nil, fmt.Errorf("%w: role %q may not release around a hole (supervisors decide)", ErrArgument, a.Role)
	case a.Name == "" || len(a.Name) > 128:
		return nil, fmt.Errorf("%w: hole release needs who decides", ErrArgument)
	case strings.TrimSpace(reason) == "" || len(reason) > wire.MaxReason:
		return nil, fmt.Errorf("%w: hole release needs a reason of 1..%d bytes", ErrArgument, wire.MaxReason)
	}
	if err := wire.ValidID(serial); err != nil {
		return nil, fmt.Errorf("%w: recorder: %w", ErrArgument, err)
	}
	if err := cleanText(a.Name, a.Role, reason); err != nil {
		return nil, fmt.Errorf("%w: hole release: %w", ErrArgument, err)
	}
	var out []HoleRelease
	for _, state := range []string{AlertOpen, AlertAcknowledged} {
		as, err := s.Alerts(ctx, AlertFilter{State: state, Kind: kindSequenceHole, Serial: serial, Limit: 10000})
		if err != nil {
			return nil, err
		}
		for _, al := range as {
			from, to, ok := holeRange(al.Key)
			if !ok {
				return nil, fmt.Errorf("store: hole alert %d has no range in its key %q", al.ID, al.Key)
			}
			out = append(out, HoleRelease{Serial: serial, From: from, To: to, Alert: al.ID, Reason: reason, By: a.Name, Role: a.Role})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: recorder %s has no standing sequence hole", ErrNotFound, serial)
	}
	now := s.clock.Now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i := range out {
			out[i].At = now
			r := out[i]
			if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO hole_releases (serial, from_seq, to_seq, alert_id, reason, decided_by,
				role, decided_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), r.Serial, int64(r.From), int64(r.To), r.Alert, r.Reason, r.By,
				r.Role, now.UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: hole release of %s: %w", serial, err)
	}
	for _, r := range out {
		if err := s.ActOnAlert(ctx, r.Alert, AlertEvent{Action: ActionExplain, By: a.Name, Role: a.Role,
			Comment: fmt.Sprintf("release around missing seq %d..%d decided: %s", r.From, r.To, reason)}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// HoleReleases lists serial's hole release decisions, oldest first.
func (s *Store) HoleReleases(ctx context.Context, serial string) ([]HoleRelease, error) {
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT serial, from_seq, to_seq, alert_id, reason, decided_by, role, decided_ns
		FROM hole_releases WHERE serial = ? ORDER BY decided_ns, id`), serial)
	if err != nil {
		return nil, fmt.Errorf("store: hole releases: %w", err)
	}
	defer rs.Close()
	var out []HoleRelease
	for rs.Next() {
		var r HoleRelease
		var from, to, at int64
		if err := rs.Scan(&r.Serial, &from, &to, &r.Alert, &r.Reason, &r.By, &r.Role, &at); err != nil {
			return nil, fmt.Errorf("store: hole releases: %w", err)
		}
		r.From, r.To, r.At = uint64(from), uint64(to), time.Unix(0, at).UTC()
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: hole releases: %w", err)
	}
	return out, nil
}

// holeRange reads the missing range of a hole alert's key
// (sequence-hole/{serial}/{from}-{to}).
func holeRange(key string) (from, to uint64, ok bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return 0, 0, false
	}
	a, b, found := strings.Cut(key[i+1:], "-")
	if !found {
		return 0, 0, false
	}
	f, err1 := strconv.ParseUint(a, 10, 63)
	t, err2 := strconv.ParseUint(b, 10, 63)
	if err1 != nil || err2 != nil || f == 0 || t < f {
		return 0, 0, false
	}
	return f, t, true
}

// HoleDelivery is a decision not yet sent to the dock that last docked its
// recorder.
type HoleDelivery struct {
	ID int64 `json:"id"`
	HoleRelease
	Dock string `json:"dock"`
}

// UndeliveredHoleReleases lists the decisions whose recorder last docked
// at a dock they were not sent to (never sent, or the recorder moved),
// oldest first, at most limit.
func (s *Store) UndeliveredHoleReleases(ctx context.Context, limit int) ([]HoleDelivery, error) {
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT h.id, h.serial, h.from_seq, h.to_seq, h.alert_id, h.reason, h.decided_by,
		h.role, h.decided_ns, d.last_dock FROM hole_releases h JOIN devices d ON d.serial = h.serial
		WHERE d.last_dock <> '' AND h.sent_dock <> d.last_dock ORDER BY h.id LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("store: undelivered hole releases: %w", err)
	}
	defer rs.Close()
	var out []HoleDelivery
	for rs.Next() {
		var d HoleDelivery
		var from, to, at int64
		if err := rs.Scan(&d.ID, &d.Serial, &from, &to, &d.Alert, &d.Reason, &d.By, &d.Role, &at, &d.Dock); err != nil {
			return nil, fmt.Errorf("store: undelivered hole releases: %w", err)
		}
		d.From, d.To, d.At = uint64(from), uint64(to), time.Unix(0, at).UTC()
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: undelivered hole releases: %w", err)
	}
	return out, nil
}

// HoleReleaseDelivered records that decision id was sent to dock.
func (s *Store) HoleReleaseDelivered(ctx context.Context, id int64, dock string) error {
	if _, err := s.db.ExecContext(ctx, s.d.q(`UPDATE hole_releases SET sent_dock = ? WHERE id = ?`), dock, id); err != nil {
		return fmt.Errorf("store: hole release %d delivered: %w", id, err)
	}
	return nil
}
