package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Alert states, defined here once: the store keeps each alert's state and
// enforces its transitions (open -> acknowledged -> closed); package alert
// and every reader of alerts use these words.
const (
	AlertOpen         = "open"
	AlertAcknowledged = "acknowledged"
	AlertClosed       = "closed"
)

// Alert is a stored alert. Key deduplicates: one finding, one alert. Its
// JSON names are package alert's (the wire's snake_case), plus the store's
// own: id, updated_at and the acknowledgement and closing fields.
type Alert struct {
	ID             int64           `json:"id"` // assigned by the store
	Key            string          `json:"key"`
	Kind           string          `json:"kind"`
	Severity       string          `json:"severity"`
	Unit           string          `json:"unit"`
	Officer        string          `json:"officer,omitempty"`
	Serial         string          `json:"serial,omitempty"`
	Seq            uint64          `json:"seq,omitempty"`
	Dock           string          `json:"dock,omitempty"`
	Title          string          `json:"title"`
	Detail         string          `json:"detail"`
	At             time.Time       `json:"at"` // when the event happened
	State          string          `json:"state"`
	OpenedAt       time.Time       `json:"opened"`
	UpdatedAt      time.Time       `json:"updated_at"`
	AcknowledgedBy string          `json:"acknowledged_by,omitempty"`
	AcknowledgedAt time.Time       `json:"acknowledged_at,omitzero"`
	Comment        string          `json:"comment,omitempty"` // the acknowledgement's comment or written explanation
	ClosedBy       string          `json:"closed_by,omitempty"`
	ClosedAt       time.Time       `json:"closed_at,omitzero"`
	Escalation     int             `json:"escalation"`
	Evidence       json.RawMessage `json:"evidence,omitempty"` // a JSON object; nil stores {}
}

// AlertFilter selects alerts; empty fields match everything.
type AlertFilter struct {
	State  string
	Unit   string
	Kind   string
	Serial string
	Limit  int // <= 0: 1000
}

// UpsertAlert raises a by its Key. A new key creates an open alert (created
// is true; OpenedAt defaults to now). An existing open or acknowledged alert
// is refreshed: severity, title, detail, at, evidence, and escalation if
// higher; its state, acknowledgement and comment stay. A closed alert stays
// closed and unchanged: a key names one finding, and a new occurrence needs
// a new key.
func (s *Store) UpsertAlert(ctx context.Context, a Alert) (created bool, err error) {
	switch {
	case a.Key == "" || len(a.Key) > 512:
		return false, fmt.Errorf("%w: alert key length %d", ErrArgument, len(a.Key))
	case a.Kind == "" || a.Severity == "" || a.Title == "":
		return false, fmt.Errorf("%w: alert %q needs kind, severity and title", ErrArgument, a.Key)
	case a.Seq > math.MaxInt64 || !timeOK(a.At) || !timeOK(a.OpenedAt) || a.Escalation < 0:
		return false, fmt.Errorf("%w: alert %q seq, time or escalation out of range", ErrArgument, a.Key)
	}
	if err := cleanText(a.Key, a.Kind, a.Severity, a.Unit, a.Officer, a.Serial, a.Dock, a.Title, a.Detail,
		string(a.Evidence)); err != nil {
		return false, fmt.Errorf("%w: alert %q: %w", ErrArgument, a.Key, err)
	}
	ev := string(a.Evidence)
	if len(a.Evidence) == 0 {
		ev = "{}"
	} else if !json.Valid(a.Evidence) {
		return false, fmt.Errorf("%w: alert %q evidence is not JSON", ErrArgument, a.Key)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		created, err = s.upsertAlertTx(ctx, tx, a, ev)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: upsert alert %q: %w", a.Key, err)
	}
	return created, nil
}

// AckAlert acknowledges an open alert with a comment or written
// explanation; acknowledging an acknowledged alert replaces the comment.
func (s *Store) AckAlert(ctx context.Context, id int64, by, comment string) error {
	if by == "" {
		return fmt.Errorf("%w: acknowledgement needs a user", ErrArgument)
	}
	if err := cleanText(by, comment); err != nil {
		return fmt.Errorf("%w: acknowledgement: %w", ErrArgument, err)
	}
	now := s.clock.Now().UnixNano()
	return s.transition(ctx, "acknowledge", id, []string{AlertOpen, AlertAcknowledged},
		`state = ?, acknowledged_by = ?, acknowledged_ns = ?, comment = ?, updated_ns = ?`,
		AlertAcknowledged, by, now, comment, now)
}

// CloseAlert closes an open or acknowledged alert.
func (s *Store) CloseAlert(ctx context.Context, id int64, by string) error {
	if by == "" {
		return fmt.Errorf("%w: closing needs a user", ErrArgument)
	}
	if err := cleanText(by); err != nil {
		return fmt.Errorf("%w: close: %w", ErrArgument, err)
	}
	now := s.clock.Now().UnixNano()
	return s.transition(ctx, "close", id, []string{AlertOpen, AlertAcknowledged},
		`state = ?, closed_by = ?, closed_ns = ?, updated_ns = ?`, AlertClosed, by, now, now)
}

// EscalateAlert sets an open alert's escalation level (never lowering it).
func (s *Store) EscalateAlert(ctx context.Context, id int64, level int) error {
	now := s.clock.Now().UnixNano()
	return s.transition(ctx, "escalate", id, []string{AlertOpen},
		`escalation = CASE WHEN ? > escalation THEN ? ELSE escalation END, updated_ns = ?`, level, level, now)
}

// transition applies set to alert id if its state is one of from; else
// ErrNotFound or ErrState.
func (s *Store) transition(ctx context.Context, what string, id int64, from []string, set string, args ...any) error {
	// One conditional UPDATE: atomic against a concurrent transition on
	// either engine; only when it matches nothing do we look why.
	q := `UPDATE alerts SET ` + set + ` WHERE id = ? AND state IN (?` + strings.Repeat(", ?", len(from)-1) + `)`
	args = append(args, id)
	for _, f := range from {
		args = append(args, f)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.q(q), args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var state string
		err = tx.QueryRowContext(ctx, s.d.q(`SELECT state FROM alerts WHERE id = ?`), id).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: alert %d", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: cannot %s a %s alert", ErrState, what, state)
	})
	if err != nil {
		return fmt.Errorf("store: %s alert %d: %w", what, id, err)
	}
	return nil
}

const alertCols = `id, dedup_key, kind, severity, unit, officer, serial, seq, dock, title, detail, at_ns, state, opened_ns,
	updated_ns, acknowledged_by, acknowledged_ns, comment, closed_by, closed_ns, escalation, evidence`

func scanAlert(sc interface{ Scan(...any) error }) (Alert, error) {
	var a Alert
	var seq, opened, updated int64
	var at, acked, closed sql.NullInt64
	var ev string
	if err := sc.Scan(&a.ID, &a.Key, &a.Kind, &a.Severity, &a.Unit, &a.Officer, &a.Serial, &seq, &a.Dock, &a.Title,
		&a.Detail, &at, &a.State, &opened, &updated, &a.AcknowledgedBy, &acked, &a.Comment, &a.ClosedBy, &closed,
		&a.Escalation, &ev); err != nil {
		return a, err
	}
	a.Seq, a.At, a.OpenedAt, a.UpdatedAt = uint64(seq), fromNS(at), time.Unix(0, opened).UTC(), time.Unix(0, updated).UTC()
	a.AcknowledgedAt, a.ClosedAt, a.Evidence = fromNS(acked), fromNS(closed), json.RawMessage(ev)
	return a, nil
}

// AlertByKey returns the alert with dedup key key.
func (s *Store) AlertByKey(ctx context.Context, key string) (Alert, bool, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, s.d.q(`SELECT `+alertCols+` FROM alerts WHERE dedup_key = ?`), key))
	if errors.Is(err, sql.ErrNoRows) {
		return Alert{}, false, nil
	}
	if err != nil {
		return Alert{}, false, fmt.Errorf("store: alert %q: %w", key, err)
	}
	return a, true, nil
}

// Alerts lists alerts matching f, newest first.
func (s *Store) Alerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT `+alertCols+` FROM alerts
		WHERE (? = '' OR state = ?) AND (? = '' OR unit = ?) AND (? = '' OR kind = ?) AND (? = '' OR serial = ?)
		ORDER BY opened_ns DESC, id DESC LIMIT ?`),
		f.State, f.State, f.Unit, f.Unit, f.Kind, f.Kind, f.Serial, f.Serial, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: alerts: %w", err)
	}
	defer rs.Close()
	var out []Alert
	for rs.Next() {
		a, err := scanAlert(rs)
		if err != nil {
			return nil, fmt.Errorf("store: alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: alerts: %w", err)
	}
	return out, nil
}

// upsertAlertTx is UpsertAlert's write inside tx; a is validated and ev is
// its evidence JSON.
func (s *Store) upsertAlertTx(ctx context.Context, tx *sql.Tx, a Alert, ev string) (created bool, err error) {
	now := s.clock.Now().UnixNano()
	opened := now
	if !a.OpenedAt.IsZero() {
		opened = a.OpenedAt.UnixNano()
	}

	created = false
	rs, err := tx.QueryContext(ctx, s.d.q(`INSERT INTO alerts (dedup_key, kind, severity, unit, officer, serial, seq, dock,
			title, detail, at_ns, state, opened_ns, updated_ns, escalation, evidence)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING RETURNING id`),
		a.Key, a.Kind, a.Severity, a.Unit, a.Officer, a.Serial, int64(a.Seq), a.Dock, a.Title, a.Detail, ns(a.At),
		AlertOpen, opened, now, a.Escalation, ev)
	if err != nil {
		return created, err
	}
	created = rs.Next()
	if err := errors.Join(rs.Close(), rs.Err()); err != nil {
		return created, err
	}
	if created {
		return created, nil
	}
	_, err = tx.ExecContext(ctx, s.d.q(`UPDATE alerts SET severity = ?, title = ?, detail = ?, at_ns = ?, evidence = ?,
			escalation = CASE WHEN ? > escalation THEN ? ELSE escalation END, updated_ns = ?
			WHERE dedup_key = ? AND state <> ?`),
		a.Severity, a.Title, a.Detail, ns(a.At), ev, a.Escalation, a.Escalation, now, a.Key, AlertClosed)
	return created, err
}
