package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
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
	// Units, when not nil, limits the alerts to these units (a person's
	// scope); an empty non-nil list matches nothing.
	Units    []string
	Severity string
	Officer  string
	Dock     string
	// Since and Until bound the time the event happened (At), [Since, Until).
	Since, Until time.Time
	// BySeverity orders critical first, then warning, then info, each
	// newest first (the supervisor's inbox); else newest first.
	BySeverity bool
	Limit      int // <= 0: 1000
	// After, when set, lists only the alerts after this one in the
	// order asked (keyset pagination: the cursor of the last alert of
	// the previous page, AlertCursorOf).
	After *AlertCursor
}

// AlertCursor is where a page of alerts ended: the last alert's severity,
// opening time and id, the columns both orders sort by.
type AlertCursor struct {
	Severity string
	Opened   time.Time
	ID       int64
}

// AlertCursorOf is the cursor that continues a listing after a.
func AlertCursorOf(a Alert) *AlertCursor {
	return &AlertCursor{Severity: a.Severity, Opened: a.OpenedAt, ID: a.ID}
}

// where is f's WHERE clause and arguments (without LIMIT); ok is false when
// f matches nothing.
func (f AlertFilter) where() (clause string, args []any, ok bool) {
	var conds []string
	eq := func(col, v string) {
		if v != "" {
			conds, args = append(conds, col+" = ?"), append(args, v)
		}
	}
	eq("state", f.State)
	eq("unit", f.Unit)
	eq("kind", f.Kind)
	eq("serial", f.Serial)
	eq("severity", f.Severity)
	eq("officer", f.Officer)
	eq("dock", f.Dock)
	if f.Units != nil {
		if len(f.Units) == 0 {
			return "", nil, false
		}
		conds = append(conds, "unit IN (?"+strings.Repeat(", ?", len(f.Units)-1)+")")
		for _, u := range f.Units {
			args = append(args, u)
		}
	}
	if !f.Since.IsZero() && timeOK(f.Since) {
		conds, args = append(conds, "at_ns >= ?"), append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() && timeOK(f.Until) {
		conds, args = append(conds, "at_ns < ?"), append(args, f.Until.UnixNano())
	}
	if len(conds) == 0 {
		return "", nil, true
	}
	return " WHERE " + strings.Join(conds, " AND "), args, true
}

// UpsertAlert raises a by its Key. A new key creates an open alert (created
// is true; OpenedAt defaults to now). An existing open or acknowledged alert
// is refreshed: severity, title, detail, at, evidence, and escalation if
// higher; its state, acknowledgement and comment stay. A closed alert stays
// closed and unchanged: a key names one finding, and a new occurrence needs
// a new key.
func (s *Store) UpsertAlert(ctx context.Context, a Alert) (created bool, err error) {
	ev, err := checkAlert(a)
	if err != nil {
		return false, err
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

// checkAlert refuses an alert the store cannot hold, and returns its
// evidence JSON ("{}" for none).
func checkAlert(a Alert) (string, error) {
	switch {
	case a.Key == "" || len(a.Key) > 512:
		return "", fmt.Errorf("%w: alert key length %d", ErrArgument, len(a.Key))
	case a.Kind == "" || a.Severity == "" || a.Title == "":
		return "", fmt.Errorf("%w: alert %q needs kind, severity and title", ErrArgument, a.Key)
	case a.Seq > math.MaxInt64 || !timeOK(a.At) || !timeOK(a.OpenedAt) || a.Escalation < 0:
		return "", fmt.Errorf("%w: alert %q seq, time or escalation out of range", ErrArgument, a.Key)
	}
	if err := cleanText(a.Key, a.Kind, a.Severity, a.Unit, a.Officer, a.Serial, a.Dock, a.Title, a.Detail,
		string(a.Evidence)); err != nil {
		return "", fmt.Errorf("%w: alert %q: %w", ErrArgument, a.Key, err)
	}
	if len(a.Evidence) == 0 {
		return "{}", nil
	}
	if !json.Valid(a.Evidence) {
		return "", fmt.Errorf("%w: alert %q evidence is not JSON", ErrArgument, a.Key)
	}
	return string(a.Evidence), nil
}

// UpsertAlerts is UpsertAlert for each of as, in one transaction: all are
// stored or none (an argument error in any refuses the whole batch before
// anything is written). created[i] reports whether as[i] created its
// alert; a key named twice creates it once (the first), the second
// refreshes it. Alerts are written in key order, so concurrent batches
// lock their rows in one order.
func (s *Store) UpsertAlerts(ctx context.Context, as []Alert) (created []bool, err error) {
	if len(as) == 0 {
		return nil, nil
	}
	evs := make([]string, len(as))
	for i, a := range as {
		if evs[i], err = checkAlert(a); err != nil {
			return nil, err
		}
	}
	order := make([]int, len(as))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(as[a].Key, as[b].Key) })
	err = s.tx(ctx, func(tx *sql.Tx) error {
		created = make([]bool, len(as)) // a retried transaction starts again
		for _, i := range order {
			c, err := s.upsertAlertTx(ctx, tx, as[i], evs[i])
			if err != nil {
				return fmt.Errorf("alert %q: %w", as[i].Key, err)
			}
			created[i] = c
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: upsert %d alerts: %w", len(as), err)
	}
	return created, nil
}

// Alert actions, the words of the alert history (AlertEvent.Action).
const (
	ActionAcknowledge = "acknowledge"
	ActionExplain     = "explain" // a written explanation added to an alert, in any state
	ActionClose       = "close"
)

// AlertEvent is one entry of an alert's append-only history: who did what,
// in which role, with what comment.
type AlertEvent struct {
	ID      int64     `json:"id"`
	AlertID int64     `json:"alert_id"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Role    string    `json:"role,omitempty"`
	Action  string    `json:"action"`
	Comment string    `json:"comment,omitempty"`
}

// AckAlert acknowledges an open alert with a comment or written
// explanation. Acknowledging an acknowledged alert adds to its history:
// the first acknowledgement (who, when, comment) stays on the alert and
// every later one is kept beside it (AlertHistory), never replacing it.
func (s *Store) AckAlert(ctx context.Context, id int64, by, comment string) error {
	return s.ActOnAlert(ctx, id, AlertEvent{By: by, Action: ActionAcknowledge, Comment: comment})
}

// CloseAlert closes an open or acknowledged alert.
func (s *Store) CloseAlert(ctx context.Context, id int64, by string) error {
	return s.ActOnAlert(ctx, id, AlertEvent{By: by, Action: ActionClose})
}

// ActOnAlert applies a person's action to alert id and appends it to the
// alert's history in the same transaction: acknowledge (open or
// acknowledged alerts), explain (any state; the alert's first comment
// stays) or close (open or acknowledged). e.By is required; e.At is the
// store's clock.
func (s *Store) ActOnAlert(ctx context.Context, id int64, e AlertEvent) error {
	if e.By == "" || len(e.By) > 128 {
		return fmt.Errorf("%w: alert action needs who acts (1-128 bytes)", ErrArgument)
	}
	if len(e.Comment) > 16<<10 || len(e.Role) > 32 {
		return fmt.Errorf("%w: alert action comment or role too long", ErrArgument)
	}
	if err := cleanText(e.By, e.Role, e.Comment); err != nil {
		return fmt.Errorf("%w: alert action: %w", ErrArgument, err)
	}
	now := s.clock.Now().UnixNano()
	var from []string
	var set string
	var args []any
	switch e.Action {
	case ActionAcknowledge:
		from = []string{AlertOpen, AlertAcknowledged}
		set = `state = ?, acknowledged_by = CASE WHEN acknowledged_by = '' THEN ? ELSE acknowledged_by END,
			acknowledged_ns = COALESCE(acknowledged_ns, ?), comment = CASE WHEN comment = '' THEN ? ELSE comment END, updated_ns = ?`
		args = []any{AlertAcknowledged, e.By, now, e.Comment, now}
	case ActionExplain:
		if e.Comment == "" {
			return fmt.Errorf("%w: an explanation needs its text", ErrArgument)
		}
		from = []string{AlertOpen, AlertAcknowledged, AlertClosed}
		set = `comment = CASE WHEN comment = '' THEN ? ELSE comment END, updated_ns = ?`
		args = []any{e.Comment, now}
	case ActionClose:
		from = []string{AlertOpen, AlertAcknowledged}
		set = `state = ?, closed_by = ?, closed_ns = ?, updated_ns = ?`
		args = []any{AlertClosed, e.By, now, now}
	default:
		return fmt.Errorf("%w: alert action %q", ErrArgument, e.Action)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.transitionTx(ctx, tx, e.Action, id, from, set, args...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO alert_history (alert_id, at_ns, person, role, action, comment)
			VALUES (?, ?, ?, ?, ?, ?)`), id, now, e.By, e.Role, e.Action, e.Comment)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: %s alert %d: %w", e.Action, id, err)
	}
	return nil
}

// AlertHistory lists what people did to alert id, oldest first.
func (s *Store) AlertHistory(ctx context.Context, id int64) ([]AlertEvent, error) {
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT id, alert_id, at_ns, person, role, action, comment FROM alert_history
		WHERE alert_id = ? ORDER BY id`), id)
	if err != nil {
		return nil, fmt.Errorf("store: alert history: %w", err)
	}
	defer rs.Close()
	var out []AlertEvent
	for rs.Next() {
		var e AlertEvent
		var at int64
		if err := rs.Scan(&e.ID, &e.AlertID, &at, &e.By, &e.Role, &e.Action, &e.Comment); err != nil {
			return nil, fmt.Errorf("store: alert history: %w", err)
		}
		e.At = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: alert history: %w", err)
	}
	return out, nil
}

// EscalateAlert sets an open alert's escalation level (never lowering it).
func (s *Store) EscalateAlert(ctx context.Context, id int64, level int) error {
	now := s.clock.Now().UnixNano()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return s.transitionTx(ctx, tx, "escalate", id, []string{AlertOpen},
			`escalation = CASE WHEN ? > escalation THEN ? ELSE escalation END, updated_ns = ?`, level, level, now)
	})
	if err != nil {
		return fmt.Errorf("store: escalate alert %d: %w", id, err)
	}
	return nil
}

// transitionTx applies set to alert id if its state is one of from; else
// ErrNotFound or ErrState.
func (s *Store) transitionTx(ctx context.Context, tx *sql.Tx, what string, id int64, from []string, set string, args ...any) error {
	// One conditional UPDATE: atomic against a concurrent transition on
	// either engine; only when it matches nothing do we look why.
	q := `UPDATE alerts SET ` + set + ` WHERE id = ? AND state IN (?` + strings.Repeat(", ?", len(from)-1) + `)`
	args = append(args, id)
	for _, f := range from {
		args = append(args, f)
	}
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
	m, err := s.AlertsByKeys(ctx, []string{key})
	if err != nil {
		return Alert{}, false, fmt.Errorf("store: alert %q: %w", key, err)
	}
	a, ok := m[key]
	return a, ok, nil
}

// AlertsByKeys returns, in one statement, the alerts with these dedup
// keys, by key (the keys no alert has are absent).
func (s *Store) AlertsByKeys(ctx context.Context, keys []string) (map[string]Alert, error) {
	rows := make([][]any, 0, len(keys))
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			rows = append(rows, []any{k})
		}
	}
	out := make(map[string]Alert, len(keys))
	err := s.withRows(ctx, `k TEXT`, rows, `SELECT `+qualified("a", alertCols)+` FROM w CROSS JOIN alerts a WHERE a.dedup_key = w.k`,
		nil, func(rs *sql.Rows) error {
			a, err := scanAlert(rs)
			if err == nil {
				out[a.Key] = a
			}
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("store: alerts by key: %w", err)
	}
	return out, nil
}

// LiveAlertsOf returns, in one statement, the open and acknowledged alerts
// about each of serials, by serial: the open ones first, each state newest
// first (as Alerts lists them).
func (s *Store) LiveAlertsOf(ctx context.Context, serials []string) (map[string][]Alert, error) {
	rows, err := serialRows(serials)
	if err != nil {
		return nil, fmt.Errorf("store: live alerts: %w", err)
	}
	out := make(map[string][]Alert, len(serials))
	err = s.withRows(ctx, `serial TEXT`, rows, `SELECT `+qualified("a", alertCols)+` FROM w CROSS JOIN alerts a
		WHERE a.serial = w.serial AND a.state IN (?, ?)
		ORDER BY a.serial, CASE a.state WHEN ? THEN 0 ELSE 1 END, a.opened_ns DESC, a.id DESC`,
		[]any{AlertOpen, AlertAcknowledged, AlertOpen}, func(rs *sql.Rows) error {
			a, err := scanAlert(rs)
			if err == nil {
				out[a.Serial] = append(out[a.Serial], a)
			}
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("store: live alerts: %w", err)
	}
	return out, nil
}

// qualified prefixes each of the comma-separated columns cols with table.
func qualified(table, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// AlertByID returns alert id.
func (s *Store) AlertByID(ctx context.Context, id int64) (Alert, bool, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, s.d.q(`SELECT `+alertCols+` FROM alerts WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Alert{}, false, nil
	}
	if err != nil {
		return Alert{}, false, fmt.Errorf("store: alert %d: %w", id, err)
	}
	return a, true, nil
}

// severityWeight orders critical (2), warning (1), info (0): the inbox
// sorts by it descending, then by opening time and id descending, so one
// row comparison continues a page and the expression indexes of migration
// 0012 (written with this very expression) serve both.
const severityWeight = `(CASE severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END)`

func weightOf(severity string) int {
	switch severity {
	case "critical":
		return 2
	case "warning":
		return 1
	}
	return 0
}

// Alerts lists alerts matching f, newest first (f.BySeverity: most severe
// first, then newest), after f.After if set.
func (s *Store) Alerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	where, args, ok := f.where()
	if !ok {
		return nil, nil
	}
	order := ` ORDER BY opened_ns DESC, id DESC`
	if f.BySeverity {
		order = ` ORDER BY ` + severityWeight + ` DESC, opened_ns DESC, id DESC`
	}
	if c := f.After; c != nil {
		cond := `(opened_ns, id) < (?, ?)`
		cargs := []any{c.Opened.UnixNano(), c.ID}
		if f.BySeverity {
			cond = `(` + severityWeight + `, opened_ns, id) < (?, ?, ?)`
			cargs = append([]any{weightOf(c.Severity)}, cargs...)
		}
		if where == "" {
			where = ` WHERE ` + cond
		} else {
			where += ` AND ` + cond
		}
		args = append(args, cargs...)
	}
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT `+alertCols+` FROM alerts`+where+order+` LIMIT ?`), append(args, f.Limit)...)
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

// AlertCount is how many alerts matching a filter have one severity and
// kind.
type AlertCount struct {
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	Count    int    `json:"count"`
}

// AlertCountsUpTo counts, by severity and kind, the alerts matching f
// (its Limit, After and order are ignored) among the first most of them
// in the inbox's order (most severe, then newest): its cost is bounded
// whatever the number of alerts. exact is false when more alerts match:
// the counts are then those of the most urgent most, and say so.
func (s *Store) AlertCountsUpTo(ctx context.Context, f AlertFilter, most int) (counts []AlertCount, exact bool, err error) {
	where, args, ok := f.where()
	if !ok {
		return nil, true, nil
	}
	order := ` ORDER BY ` + severityWeight + ` DESC, opened_ns DESC, id DESC`
	// Both read the index alone (migration 0012): the groups of the
	// first most, and whether a most+1st exists.
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT severity, kind, count(*) FROM (SELECT severity, kind FROM alerts`+where+order+
		` LIMIT ?) x GROUP BY severity, kind`), append(args, most)...)
	if err != nil {
		return nil, false, fmt.Errorf("store: alert counts: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var c AlertCount
		if err := rs.Scan(&c.Severity, &c.Kind, &c.Count); err != nil {
			return nil, false, fmt.Errorf("store: alert counts: %w", err)
		}
		counts = append(counts, c)
	}
	if err := rs.Err(); err != nil {
		return nil, false, fmt.Errorf("store: alert counts: %w", err)
	}
	slices.SortFunc(counts, func(a, b AlertCount) int {
		if c := cmp.Compare(weightOf(b.Severity), weightOf(a.Severity)); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind+"\x00"+a.Severity, b.Kind+"\x00"+b.Severity)
	})
	var more int
	err = s.db.QueryRowContext(ctx, s.d.q(`SELECT count(*) FROM (SELECT 1 FROM alerts`+where+order+` LIMIT 1 OFFSET ?) x`),
		append(args, most)...).Scan(&more)
	if err != nil {
		return nil, false, fmt.Errorf("store: alert counts: %w", err)
	}
	return counts, more == 0, nil
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
