package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Export states, in order.
const (
	ExportRequested = "requested"
	ExportApproved  = "approved"
	ExportRefused   = "refused"
	ExportPackaged  = "packaged"
)

// ExportItem is one segment of an export and the object its receipt names.
type ExportItem struct {
	Serial string
	Seq    uint64
	Object string // the receipt's object (id, or id@version on S3)
}

// ExportEvent is one step of an export's history.
type ExportEvent struct {
	State    string
	By       Actor
	Detail   string // the refusal's reason, the package's manifest SHA-256
	Manifest string // the signed manifest, kept (packaged only)
	At       time.Time
}

// Export is an export request and its history.
type Export struct {
	ID        int64
	Unit      string
	Recipient string // e.g. the prosecutor's office
	Purpose   string
	By        Actor // the requester
	At        time.Time
	Items     []ExportItem
	Events    []ExportEvent // oldest first; the last one's State is the export's
}

// State is the export's current state.
func (e Export) State() string { return e.Events[len(e.Events)-1].State }

// exportRoles may request an export; auxiliary staff may not (rule 6).
var exportRoles = map[string]bool{"officer": true, "custodian": true, "supervisor": true, "admin": true}

// ErrExportState reports a step out of order (approving twice, packaging
// an unapproved export).
var ErrExportState = errors.New("store: export not in the state for that step")

// RequestExport records a request for the segments items name (each must
// hold a receipt: only evidence already in the store can leave it) and
// returns its id. Every segment's request is in the access log.
func (s *Store) RequestExport(ctx context.Context, e Export) (int64, error) {
	switch {
	case !exportRoles[e.By.Role]:
		return 0, fmt.Errorf("%w: role %q may not request an export", ErrNotPermitted, e.By.Role)
	case blank(e.By.Name, e.Unit, e.Recipient, e.Purpose):
		return 0, fmt.Errorf("%w: an export request names who, the unit, to whom and why", ErrArgument)
	case len(e.Items) == 0 || len(e.Items) > 1000:
		return 0, fmt.Errorf("%w: an export of %d segments", ErrArgument, len(e.Items))
	}
	if err := cleanText(e.By.Name, e.By.Role, e.Unit, e.Recipient, e.Purpose); err != nil {
		return 0, fmt.Errorf("%w: export: %w", ErrArgument, err)
	}
	now := s.clock.Now()
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.d.q(`INSERT INTO exports (unit, recipient, purpose, requested_by, requested_role, requested_ns)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), e.Unit, e.Recipient, e.Purpose, e.By.Name, e.By.Role, now.UnixNano()).Scan(&id)
		if err != nil {
			return err
		}
		for _, it := range e.Items {
			if it.Seq > math.MaxInt64 {
				return fmt.Errorf("%w: seq %d", ErrArgument, it.Seq)
			}
			r, ok, err := s.receipt(ctx, tx, it.Serial, it.Seq)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: %s/%d has no receipt: not in the evidence store", ErrNotFound, it.Serial, it.Seq)
			}
			if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO export_items (export_id, serial, seq, object_id) VALUES (?, ?, ?, ?)`),
				id, it.Serial, int64(it.Seq), r.ObjectID); err != nil {
				return err
			}
		}
		return s.exportStep(ctx, tx, id, ExportEvent{State: ExportRequested, By: e.By, Detail: e.Recipient + ": " + e.Purpose, At: now})
	})
	if err != nil {
		return 0, fmt.Errorf("store: request export: %w", err)
	}
	return id, nil
}

func blank(ss ...string) bool {
	for _, s := range ss {
		if strings.TrimSpace(s) == "" {
			return true
		}
	}
	return false
}

// DecideExport approves or refuses (with a reason) a requested export. Only
// a supervisor of the export's unit who is not the requester decides;
// who is in which unit is given with by (Actor.Unit) until people are in
// the store.
func (s *Store) DecideExport(ctx context.Context, id int64, by Actor, approve bool, reason string) error {
	state := ExportRefused
	if approve {
		state = ExportApproved
	}
	if err := cleanText(by.Name, by.Role, by.Unit, reason); err != nil {
		return fmt.Errorf("%w: export decision: %w", ErrArgument, err)
	}
	if !approve && blank(reason) || blank(by.Name) {
		return fmt.Errorf("%w: a decision names who, and a refusal why", ErrArgument)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		e, err := s.export(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case by.Role != "supervisor" || by.Unit != e.Unit:
			return fmt.Errorf("%w: only a supervisor of unit %s decides its exports (%s is %s of %q)", ErrNotPermitted, e.Unit, by.Name, by.Role, by.Unit)
		case by.Name == e.By.Name:
			return fmt.Errorf("%w: %s requested export %d and may not decide it", ErrNotPermitted, by.Name, id)
		case e.State() != ExportRequested:
			return fmt.Errorf("%w: export %d is %s", ErrExportState, id, e.State())
		}
		return s.exportStep(ctx, tx, id, ExportEvent{State: state, By: by, Detail: reason, At: s.clock.Now()})
	})
	if err != nil {
		return fmt.Errorf("store: decide export: %w", err)
	}
	return nil
}

// RecordExportPackaged records that an approved export was packaged and
// keeps its signed manifest (the copy kept); detail names the package.
func (s *Store) RecordExportPackaged(ctx context.Context, id int64, by Actor, manifest, detail string) error {
	if err := cleanText(by.Name, by.Role, manifest, detail); err != nil || blank(by.Name, manifest) {
		return fmt.Errorf("%w: export package (%v)", ErrArgument, err)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		e, err := s.export(ctx, tx, id)
		if err != nil {
			return err
		}
		if e.State() != ExportApproved {
			return fmt.Errorf("%w: export %d is %s, not approved", ErrExportState, id, e.State())
		}
		return s.exportStep(ctx, tx, id, ExportEvent{State: ExportPackaged, By: by, Detail: detail, Manifest: manifest, At: s.clock.Now()})
	})
	if err != nil {
		return fmt.Errorf("store: export packaged: %w", err)
	}
	return nil
}

// exportStep appends an event and, for each of the export's objects, an
// access-log row.
func (s *Store) exportStep(ctx context.Context, tx *sql.Tx, id int64, ev ExportEvent) error {
	if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO export_events (export_id, state, actor, role, unit, detail, manifest, at_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), id, ev.State, ev.By.Name, ev.By.Role, ev.By.Unit, ev.Detail, ev.Manifest, ev.At.UnixNano()); err != nil {
		return err
	}
	action := "export-" + ev.State
	if ev.State == ExportPackaged {
		action = "export"
	}
	_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO footage_access (at_ns, viewer, role, object_id, action, granted, reason, remote)
		SELECT ?, ?, ?, object_id, ?, ?, ?, '' FROM export_items WHERE export_id = ?`), ev.At.UnixNano(), ev.By.Name, ev.By.Role,
		action, boolInt(ev.State != ExportRefused), fmt.Sprintf("export %d: %s", id, ev.Detail), id)
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Export returns export id with its items and history.
func (s *Store) Export(ctx context.Context, id int64) (Export, error) {
	e, err := s.export(ctx, s.db, id)
	if err != nil {
		return Export{}, fmt.Errorf("store: export: %w", err)
	}
	return e, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) export(ctx context.Context, q queryer, id int64) (Export, error) {
	e := Export{ID: id}
	var at int64
	err := q.QueryRowContext(ctx, s.d.q(`SELECT unit, recipient, purpose, requested_by, requested_role, requested_ns FROM exports WHERE id = ?`),
		id).Scan(&e.Unit, &e.Recipient, &e.Purpose, &e.By.Name, &e.By.Role, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Export{}, fmt.Errorf("%w: export %d", ErrNotFound, id)
	}
	if err != nil {
		return Export{}, err
	}
	e.At, e.By.Unit = time.Unix(0, at).UTC(), e.Unit
	rs, err := q.QueryContext(ctx, s.d.q(`SELECT serial, seq, object_id FROM export_items WHERE export_id = ? ORDER BY serial, seq`), id)
	if err != nil {
		return Export{}, err
	}
	for rs.Next() {
		var it ExportItem
		var seq int64
		if err := rs.Scan(&it.Serial, &seq, &it.Object); err != nil {
			rs.Close()
			return Export{}, err
		}
		it.Seq = uint64(seq)
		e.Items = append(e.Items, it)
	}
	rs.Close()
	rs, err = q.QueryContext(ctx, s.d.q(`SELECT state, actor, role, unit, detail, manifest, at_ns FROM export_events WHERE export_id = ? ORDER BY id`), id)
	if err != nil {
		return Export{}, err
	}
	defer rs.Close()
	for rs.Next() {
		var ev ExportEvent
		if err := rs.Scan(&ev.State, &ev.By.Name, &ev.By.Role, &ev.By.Unit, &ev.Detail, &ev.Manifest, &at); err != nil {
			return Export{}, err
		}
		ev.At = time.Unix(0, at).UTC()
		e.Events = append(e.Events, ev)
	}
	if err := rs.Err(); err != nil {
		return Export{}, err
	}
	if len(e.Events) == 0 {
		return Export{}, fmt.Errorf("%w: export %d has no history", ErrState, id)
	}
	return e, nil
}
