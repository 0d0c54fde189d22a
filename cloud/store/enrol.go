package store

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// The enrolment registry (migration 0003): units, the docks and recorders
// bound to them, and who enrolled each. It is the source of identity
// (DESIGN.md, "Trust and judgement"): a dock acts only for the recorders
// of its unit, and a recorder's unit comes from here, never from a report.

// RecorderPolicy says which recorders a dock may upload and report for.
type RecorderPolicy string

const (
	// RecordersProtected (the default, "") protects enrolled recorders: a
	// recorder enrolled to a unit is handled only by that unit's docks.
	// Recorders not enrolled are accepted from any enrolled dock, so a
	// registry without recorders (the demo, a fresh install) keeps
	// working; their unit is what the dock reports, and every such
	// acceptance is counted by its caller.
	RecordersProtected RecorderPolicy = ""
	// RecordersEnrolledOnly refuses recorders that are not enrolled, too:
	// production, once every recorder is enrolled.
	RecordersEnrolledOnly RecorderPolicy = "enrolled-only"
	// RecordersAuthenticated lets a dock handle exactly the recorders it
	// has proved holding, whatever unit enrolment binds them to: an
	// "authenticated" record for the serial in its audit chain
	// (wire.AuditAuthenticated, written when the dock checked the
	// recorder's Ed25519 key) whose hash verifies and whose proof
	// (wire.AuthProof, DockLink §6.5) verifies with the recorder's
	// enrolled key for this dock (wire.AuditRecord.VerifyProof: the nonce
	// recomputed from the record's dock, time and salt). The chain has no
	// secret, so the dock's word alone does not count: a record without a
	// proof, with one that does not verify (counted, logged and alerted as
	// a refusal when it arrives), or with one copied from another dock's
	// chain gives nothing. A recorder not enrolled has no key to check, so
	// no dock can handle it under this policy. A proof is checked once, on
	// arrival, with the key enrolled then; a recorder re-enrolled with
	// another key must be proved again. With Opts.ProofMaxAge a proof
	// counts only while its signed time is that recent: a dock must keep
	// docking the recorder to keep handling it. For fleets whose recorders
	// move between units' docks.
	RecordersAuthenticated RecorderPolicy = "authenticated"
)

// ParseRecorderPolicy parses a configured policy: "", "protected",
// "enrolled-only" or "authenticated".
func ParseRecorderPolicy(s string) (RecorderPolicy, error) {
	switch s {
	case "", "protected":
		return RecordersProtected, nil
	case string(RecordersEnrolledOnly), string(RecordersAuthenticated):
		return RecorderPolicy(s), nil
	}
	return "", fmt.Errorf("%w: recorder policy %q: want protected, enrolled-only or authenticated", ErrArgument, s)
}

// standing is what the collector knows of a dock and a recorder: their
// enrolment and whether the dock proved holding the recorder (an
// "authenticated" audit record whose proof verified with the recorder's
// enrolled key; looked up only under RecordersAuthenticated), and when.
type standing struct {
	dock, serial string
	dockUnit     string
	enrolled     bool // the recorder is enrolled
	recUnit      string
	proven       bool
	// provenAt is the newest such proof's time (audit_records.proof_at,
	// Unix ns: its signed time capped at its arrival); 0 when unknown (a
	// record stored before migration 0019).
	provenAt int64
	// now is the store's clock and maxAge its Opts.ProofMaxAge (0: no
	// limit): a proof older than maxAge, or of unknown time while there is
	// a limit, does not count.
	now    time.Time
	maxAge time.Duration
}

// stale reports whether st's proof is too old to count, and why.
func (st standing) stale() (string, bool) {
	if st.maxAge <= 0 {
		return "", false
	}
	if st.provenAt == 0 {
		return fmt.Sprintf("dock %s proved holding recorder %s at an unknown time (a record stored before proof times were kept), and proofs more than %s old do not count",
			st.dock, st.serial, st.maxAge), true
	}
	at := time.Unix(0, st.provenAt).UTC()
	if st.now.Sub(at) <= st.maxAge {
		return "", false
	}
	return fmt.Sprintf("dock %s last proved holding recorder %s at %s, more than %s ago", st.dock, st.serial,
		at.Format(time.RFC3339), st.maxAge), true
}

// judge is the one rule of which recorders a dock may handle, for uploads
// (RecorderAccess) and reports (screen) alike.
func (p RecorderPolicy) judge(st standing) Access {
	a := Access{Dock: st.dock, DockUnit: st.dockUnit, Serial: st.serial, Enrolled: st.enrolled, RecorderUnit: st.recUnit,
		AlertUnit: st.dockUnit}
	if st.enrolled {
		a.AlertUnit = st.recUnit
	}
	switch {
	case p == RecordersAuthenticated && !st.enrolled:
		a.Reason = fmt.Sprintf("recorder %s is not enrolled: there is no key to check dock %s's proof of holding it", st.serial, st.dock)
	case p == RecordersAuthenticated && !st.proven:
		a.Reason = fmt.Sprintf("dock %s has not proved holding recorder %s (no authenticated record whose recorder signature verifies with its enrolled key)",
			st.dock, st.serial)
	case p == RecordersAuthenticated:
		if why, stale := st.stale(); stale {
			a.Reason = why
			break
		}
		a.Allowed = true
	case st.enrolled && st.recUnit != st.dockUnit:
		a.Reason = fmt.Sprintf("recorder %s is enrolled to unit %s; dock %s serves unit %q", st.serial, st.recUnit, st.dock, st.dockUnit)
	case st.enrolled:
		a.Allowed = true
	case p == RecordersEnrolledOnly:
		a.Reason = fmt.Sprintf("recorder %s is not enrolled", st.serial)
	default:
		a.Allowed, a.UnenrolledAccepted = true, true
	}
	return a
}

// Unit is an enrolled unit (a section with its equipment custodian).
type Unit struct {
	ID         string
	Name       string
	Custodian  string // who keeps its equipment; alerts about its devices go to the unit
	EnrolledBy string
	EnrolledAt time.Time
}

// Recorder is an enrolled recorder.
type Recorder struct {
	Serial     string
	Unit       string
	PublicKey  ed25519.PublicKey // the key the docks authenticate it with
	EnrolledBy string
	EnrolledAt time.Time
}

func checkBy(by string) error {
	if by == "" || len(by) > 128 {
		return fmt.Errorf("%w: enrolment needs who enrols (1-128 bytes)", ErrArgument)
	}
	return cleanText(by)
}

// EnrollUnit enrols (or updates the name and custodian of) a unit; by is
// the person or program enrolling it.
func (s *Store) EnrollUnit(ctx context.Context, u Unit, by string) error {
	if err := wire.ValidID(u.ID); err != nil {
		return fmt.Errorf("%w: unit: %w", ErrArgument, err)
	}
	if err := checkBy(by); err != nil {
		return err
	}
	if len(u.Name) > 256 || len(u.Custodian) > 128 {
		return fmt.Errorf("%w: unit name or custodian too long", ErrArgument)
	}
	if err := cleanText(u.Name, u.Custodian); err != nil {
		return fmt.Errorf("%w: unit: %w", ErrArgument, err)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO units (id, name, custodian, enrolled_by, enrolled_ns)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, custodian = excluded.custodian,
			enrolled_by = excluded.enrolled_by, enrolled_ns = excluded.enrolled_ns`),
			u.ID, u.Name, u.Custodian, by, s.clock.Now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: enroll unit %s: %w", u.ID, err)
	}
	return nil
}

// Units lists the enrolled units by id.
func (s *Store) Units(ctx context.Context) ([]Unit, error) {
	rs, err := s.db.QueryContext(ctx, `SELECT id, name, custodian, enrolled_by, enrolled_ns FROM units ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: units: %w", err)
	}
	defer rs.Close()
	var out []Unit
	for rs.Next() {
		var u Unit
		var at int64
		if err := rs.Scan(&u.ID, &u.Name, &u.Custodian, &u.EnrolledBy, &at); err != nil {
			return nil, fmt.Errorf("store: units: %w", err)
		}
		u.EnrolledAt = time.Unix(0, at).UTC()
		out = append(out, u)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: units: %w", err)
	}
	return out, nil
}

func unitExists(ctx context.Context, s *Store, tx *sql.Tx, unit string) error {
	var id string
	err := tx.QueryRowContext(ctx, s.d.q(`SELECT id FROM units WHERE id = ?`), unit).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: unit %s is not enrolled (collector enroll unit)", ErrNotFound, unit)
	}
	return err
}

// EnrollDockBy enrols (or re-enrols, moving it or rotating its token) a dock
// into an enrolled unit, recording who did it. EnrollDock is the same for
// the docks listed in the collector's configuration, whose unit need not be
// enrolled.
func (s *Store) EnrollDockBy(ctx context.Context, id, unit, token, by string) error {
	if err := checkBy(by); err != nil {
		return err
	}
	if err := wire.ValidID(unit); err != nil {
		return fmt.Errorf("%w: unit: %w", ErrArgument, err)
	}
	return s.enrollDock(ctx, id, unit, token, by, true)
}

// EnrollRecorder enrols (or re-enrols, moving it or replacing its key) a
// recorder into an enrolled unit; by is who enrols it.
func (s *Store) EnrollRecorder(ctx context.Context, r Recorder, by string) error {
	if err := wire.ValidID(r.Serial); err != nil {
		return fmt.Errorf("%w: recorder: %w", ErrArgument, err)
	}
	if err := wire.ValidID(r.Unit); err != nil {
		return fmt.Errorf("%w: unit: %w", ErrArgument, err)
	}
	if len(r.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: recorder %s public key of %d bytes, want %d", ErrArgument, r.Serial, len(r.PublicKey), ed25519.PublicKeySize)
	}
	if err := checkBy(by); err != nil {
		return err
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := unitExists(ctx, s, tx, r.Unit); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO recorders (serial, unit, public_key, enrolled_by, enrolled_ns)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (serial) DO UPDATE SET unit = excluded.unit, public_key = excluded.public_key,
			enrolled_by = excluded.enrolled_by, enrolled_ns = excluded.enrolled_ns`),
			r.Serial, r.Unit, base64.StdEncoding.EncodeToString(r.PublicKey), by, s.clock.Now().UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: enroll recorder %s: %w", r.Serial, err)
	}
	return nil
}

// Recorders lists the enrolled recorders of unit ("" lists all), by serial.
func (s *Store) Recorders(ctx context.Context, unit string) ([]Recorder, error) {
	return s.recorders(ctx, `WHERE ? = '' OR unit = ? ORDER BY serial`, unit, unit)
}

// recorders lists the enrolled recorders the query's tail (WHERE, ORDER,
// LIMIT) selects.
func (s *Store) recorders(ctx context.Context, tail string, args ...any) ([]Recorder, error) {
	rs, err := s.db.QueryContext(ctx, s.d.q(`SELECT serial, unit, public_key, enrolled_by, enrolled_ns FROM recorders `+tail), args...)
	if err != nil {
		return nil, fmt.Errorf("store: recorders: %w", err)
	}
	defer rs.Close()
	var out []Recorder
	for rs.Next() {
		r, err := scanRecorder(rs)
		if err != nil {
			return nil, fmt.Errorf("store: recorders: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: recorders: %w", err)
	}
	return out, nil
}

type scanner interface{ Scan(...any) error }

func scanRecorder(sc scanner) (Recorder, error) {
	var r Recorder
	var key string
	var at int64
	if err := sc.Scan(&r.Serial, &r.Unit, &key, &r.EnrolledBy, &at); err != nil {
		return Recorder{}, err
	}
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(k) != ed25519.PublicKeySize {
		return Recorder{}, fmt.Errorf("recorder %s: stored key is not a base64 Ed25519 public key", r.Serial)
	}
	r.PublicKey, r.EnrolledAt = k, time.Unix(0, at).UTC()
	return r, nil
}

// EnrolledRecorder returns serial's enrolment.
func (s *Store) EnrolledRecorder(ctx context.Context, serial string) (Recorder, bool, error) {
	r, err := scanRecorder(s.db.QueryRowContext(ctx, s.d.q(`SELECT serial, unit, public_key, enrolled_by, enrolled_ns
		FROM recorders WHERE serial = ?`), serial))
	if errors.Is(err, sql.ErrNoRows) {
		return Recorder{}, false, nil
	}
	if err != nil {
		return Recorder{}, false, fmt.Errorf("store: recorder %s: %w", serial, err)
	}
	return r, true, nil
}

// Access is the registry's judgement of whether a dock may handle (upload
// or report for) a recorder.
type Access struct {
	Dock, DockUnit     string
	Serial             string
	Enrolled           bool   // the recorder is enrolled
	RecorderUnit       string // its enrolled unit ("" if not enrolled)
	Allowed            bool
	Reason             string // why not, for the dock and the log; empty when allowed
	AlertUnit          string // the unit whose custodian hears of a refusal: the recorder's, else the dock's
	UnenrolledAccepted bool   // allowed only because the policy accepts recorders not enrolled
}

// RecorderAccess judges whether dock may handle serial under the store's
// recorder policy (Opts.Recorders).
func (s *Store) RecorderAccess(ctx context.Context, dock, serial string) (Access, error) {
	st := standing{dock: dock, serial: serial}
	err := s.db.QueryRowContext(ctx, s.d.q(`SELECT d.unit, COALESCE(r.unit, ''), r.serial IS NOT NULL
		FROM docks d LEFT JOIN recorders r ON r.serial = ? WHERE d.id = ?`), serial, dock).Scan(&st.dockUnit, &st.recUnit, &st.enrolled)
	if errors.Is(err, sql.ErrNoRows) {
		return Access{Dock: dock, Serial: serial, Reason: "dock " + dock + " is not enrolled"}, nil
	}
	if err != nil {
		return Access{}, fmt.Errorf("store: recorder access: %w", err)
	}
	if s.policy == RecordersAuthenticated {
		var n int64
		err := s.db.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*), COALESCE(MAX(a.proof_at), 0) FROM audit_records a
			JOIN recorders r ON r.serial = a.serial AND r.public_key = a.proof_key
			WHERE a.dock = ? AND a.serial = ? AND a.action = ? AND a.status <> ?`), dock, serial, wire.AuditAuthenticated, AuditBroken).Scan(&n, &st.provenAt)
		if err != nil {
			return Access{}, fmt.Errorf("store: recorder access: %w", err)
		}
		st.proven, st.now, st.maxAge = n > 0, s.clock.Now(), s.proofMaxAge
	}
	return s.policy.judge(st), nil
}

// Alert kinds raised when a machine oversteps what enrolment allows it or
// contradicts the collector's own records (DESIGN.md, "Trust and
// judgement"). Their unit comes from enrolment.
const (
	KindRecorderRefused  = "recorder-refused"   // a dock uploaded or reported for a recorder it may not handle
	KindReceiptConflict  = "receipt-conflict"   // an upload claims a receipted segment with another hash
	KindEchoedReceipt    = "echoed-receipt"     // a dock's manifest carries a receipt the collector did not issue
	KindEvidenceCorrupt  = "evidence-corrupt"   // a held object no longer hashes to its id
	KindReportTime       = "report-time"        // a report dated beyond the allowed skew from the collector's clock
	KindEventLogConflict = "event-log-conflict" // a dock read a recorder's event-log entry otherwise than its first stored read
)
