package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// screen drops from the batch's fresh messages the reports a dock may not
// make (DESIGN.md, "Trust and judgement"): a health report, a segment
// manifest, a recorder's event log, a checkout or a firmware update's
// progress for a recorder the recorder policy keeps from the dock
// (RecorderPolicy.judge: enrolled to another unit, not enrolled under
// RecordersEnrolledOnly, not proved held by the dock under
// RecordersAuthenticated), a segment manifest of a recorder enrolled
// nowhere from a dock of another unit than the dock whose upload the
// segment's receipt was issued for (heldBy: the footage's unit, which the
// report would not change, but the segment's reporting dock is the
// newest manifest's), and a health report dated beyond the allowed
// skew ahead of the collector's clock, which would otherwise win "newest"
// for ever, or long before the recorder was enrolled
// (Opts.BeforeEnrolment). A dropped message is still committed as a
// message id, so the dock's outbox is acknowledged and stops resending; it
// changes nothing else. Each refusal is logged, counted in the alert's
// count, and raises an alert to the recorder's enrolled unit (else the
// dock's; the footage's for a manifest of another unit's footage).
// Segment manifests are not refused for their times: footage recorded
// before enrolment is evidence all the same.
func (w *writer) screen(ctx context.Context) error {
	type pair = dockSerial
	verdicts := map[pair]Access{}
	var pairs []pair
	for _, i := range w.fresh {
		serial, ok := recorderOf(w.msgs[i].Body)
		if !ok {
			continue
		}
		p := pair{w.msgs[i].Env.Dock, serial}
		if _, seen := verdicts[p]; !seen {
			verdicts[p] = Access{}
			pairs = append(pairs, p)
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if a.dock != b.dock {
			return cmp.Compare(a.dock, b.dock)
		}
		return cmp.Compare(a.serial, b.serial)
	})
	// A few lookups per batch, not one per message.
	var dockIDs, serials []string
	for _, p := range pairs {
		dockIDs = append(dockIDs, p.dock)
		serials = append(serials, p.serial)
	}
	dockUnits, err := w.unitsOf(ctx, "docks", "id", dockIDs)
	if err != nil {
		return err
	}
	recs, err := w.recordersOf(ctx, serials)
	if err != nil {
		return err
	}
	var authed map[pair]int64
	if w.s.policy == RecordersAuthenticated {
		if authed, err = w.authenticated(ctx, dockIDs, serials); err != nil {
			return err
		}
		for _, i := range w.fresh { // this batch's own records count too, once their proof verified (proofs)
			if r, ok := w.msgs[i].Body.(*wire.AuditRecord); ok && r.Action == wire.AuditAuthenticated && w.proven[i].key != "" {
				if h, err := r.ComputeHash(w.msgs[i].Env.Dock); err == nil && h == r.Hash {
					k := pair{w.msgs[i].Env.Dock, r.Serial}
					authed[k] = max(authed[k], w.proven[i].at)
				}
			}
		}
	}
	for _, p := range pairs {
		rec, enrolled := recs[p.serial]
		at, proven := authed[pair{p.dock, p.serial}]
		v := w.s.policy.judge(standing{dock: p.dock, serial: p.serial, dockUnit: dockUnits[p.dock], enrolled: enrolled,
			recUnit: rec.Unit, proven: proven, provenAt: at, now: time.Unix(0, w.now).UTC(), maxAge: w.s.proofMaxAge})
		if v.Allowed && enrolled {
			if w.enrolledUnit == nil {
				w.enrolledUnit = map[string]string{}
			}
			w.enrolledUnit[p.serial] = rec.Unit
		}
		verdicts[p] = v
	}
	held, err := w.heldBy(ctx, verdicts)
	if err != nil {
		return err
	}
	now := time.Unix(0, w.now).UTC()
	limit := now.Add(w.s.skew)
	kept := w.fresh[:0:0]
	for _, i := range w.fresh {
		m := w.msgs[i]
		var serial string
		var alert Alert
		switch b := m.Body.(type) {
		case *wire.DeviceHealth:
			serial = b.Serial
			v := verdicts[pair{m.Env.Dock, serial}]
			if !v.Allowed {
				break
			}
			rec, enrolled := recs[serial]
			early := rec.EnrolledAt.Add(-w.s.beforeEnrolment)
			switch {
			case b.DockedAt.After(limit) || b.DockClock.After(limit):
				alert = Alert{Title: fmt.Sprintf("Dock %s reported recorder %s docked in the future", m.Env.Dock, serial),
					Detail: fmt.Sprintf("docked_at %s, dock clock %s: more than %s ahead of the collector's clock %s; the report is ignored",
						b.DockedAt.Format(time.RFC3339), b.DockClock.Format(time.RFC3339), w.s.skew, now.Format(time.RFC3339))}
			case enrolled && (b.DockedAt.Before(early) || b.DockClock.Before(early)):
				alert = Alert{Title: fmt.Sprintf("Dock %s reported recorder %s docked long before its enrolment", m.Env.Dock, serial),
					Detail: fmt.Sprintf("docked_at %s, dock clock %s: more than %s before the recorder's enrolment at %s; the report is ignored",
						b.DockedAt.Format(time.RFC3339), b.DockClock.Format(time.RFC3339), w.s.beforeEnrolment, rec.EnrolledAt.Format(time.RFC3339))}
			}
			if alert.Title != "" {
				alert.Key, alert.Kind = fmt.Sprintf("%s/%s/%s", KindReportTime, m.Env.Dock, serial), KindReportTime
				alert.Severity, alert.Unit, alert.Serial, alert.Dock = "warning", v.AlertUnit, serial, m.Env.Dock
			}
		default:
			var ok bool
			if serial, ok = recorderOf(b); !ok {
				kept = append(kept, i)
				continue
			}
		}
		if v := verdicts[pair{m.Env.Dock, serial}]; !v.Allowed {
			alert = Alert{Key: fmt.Sprintf("%s/report/%s/%s", KindRecorderRefused, m.Env.Dock, serial), Kind: KindRecorderRefused,
				Severity: "warning", Unit: v.AlertUnit, Serial: serial, Dock: m.Env.Dock,
				Title:  fmt.Sprintf("Dock %s reported on recorder %s, which it may not handle", m.Env.Dock, serial),
				Detail: v.Reason + "; the " + m.Env.Type + " report is ignored"}
		} else if b, ok := m.Body.(*wire.SegmentManifest); ok && !v.Enrolled {
			if h, ok := held[segKey{b.Serial, b.Seq}]; ok && h.unit != v.DockUnit {
				// Footage of another unit (footageUnit): the report could
				// not make it this dock's unit's, but it would make this
				// dock the segment's reporter. The alert goes to the
				// footage's unit, under a key of its own, so nothing of
				// it reaches an alert of the reporting dock's unit.
				alert = Alert{Key: fmt.Sprintf("%s/report/%s/%s/%d", KindRecorderRefused, m.Env.Dock, serial, b.Seq),
					Kind: KindRecorderRefused, Severity: "warning", Unit: h.unit, Serial: serial, Seq: b.Seq, Dock: m.Env.Dock,
					Title: fmt.Sprintf("Dock %s reported segment %d of recorder %s, footage of another unit", m.Env.Dock, b.Seq, serial),
					Detail: fmt.Sprintf("recorder %s is enrolled nowhere and its segment %d was uploaded by dock %s of unit %q; dock %s serves unit %q; the %s report is ignored",
						serial, b.Seq, h.dock, h.unit, m.Env.Dock, v.DockUnit, m.Env.Type)}
			}
		}
		if alert.Key == "" {
			kept = append(kept, i)
			continue
		}
		if alert.Unit == "" {
			alert.Unit = "unassigned"
		}
		alert.At = now
		if w.refused == nil {
			w.refused = map[string]int{}
		}
		w.refused[alert.Kind]++
		w.s.log.Warn("store: report refused", "dock", m.Env.Dock, "msg", m.Env.ID, "type", m.Env.Type, "serial", serial,
			"kind", alert.Kind, "detail", alert.Detail)
		if _, err := w.s.upsertAlertTx(ctx, w.tx, alert, "{}"); err != nil {
			return err
		}
	}
	w.fresh = kept
	return nil
}

// heldDock is the dock whose upload a segment's receipt was issued for,
// and its unit.
type heldDock struct{ dock, unit string }

// heldBy returns, for the segments the batch's allowed manifests report
// of recorders enrolled nowhere, the dock whose upload their receipt was
// issued for and its unit, where the receipt names a dock the registry
// holds: the footage's unit (footageUnit), which a manifest from a dock of
// another unit may not report on (screen). One statement per batch.
func (w *writer) heldBy(ctx context.Context, verdicts map[dockSerial]Access) (map[segKey]heldDock, error) {
	seen := map[segKey]bool{}
	var rows [][]any
	for _, i := range w.fresh {
		m := w.msgs[i]
		b, ok := m.Body.(*wire.SegmentManifest)
		if !ok || b.Seq > math.MaxInt64 || seen[segKey{b.Serial, b.Seq}] {
			continue
		}
		if v := verdicts[dockSerial{m.Env.Dock, b.Serial}]; !v.Allowed || v.Enrolled {
			continue
		}
		seen[segKey{b.Serial, b.Seq}] = true
		rows = append(rows, []any{b.Serial, int64(b.Seq)})
	}
	out := map[segKey]heldDock{}
	err := w.s.withRowsOn(ctx, w.tx, `serial TEXT, seq BIGINT`, rows, `SELECT w.serial, w.seq, c.dock, cd.unit
		FROM w CROSS JOIN receipts c JOIN docks cd ON cd.id = c.dock WHERE c.device = w.serial AND c.seq = w.seq`, nil,
		func(rs *sql.Rows) error {
			var k segKey
			var seq int64
			var h heldDock
			if err := rs.Scan(&k.serial, &seq, &h.dock, &h.unit); err != nil {
				return err
			}
			k.seq = uint64(seq)
			out[k] = h
			return nil
		})
	return out, err
}

// recorderOf names the recorder a report is about, for the reports a dock
// may make only on recorders the policy lets it handle.
func recorderOf(b wire.Body) (string, bool) {
	switch b := b.(type) {
	case *wire.DeviceHealth:
		return b.Serial, true
	case *wire.SegmentManifest:
		return b.Serial, true
	case *wire.Docking:
		return b.Serial, true
	case *wire.RecorderEvents:
		return b.Serial, true
	case *wire.Checkout:
		return b.Serial, true
	case *wire.FirmwareProgress:
		return b.Serial, true
	}
	return "", false
}

// dockSerial is a dock and a recorder it reports on.
type dockSerial struct{ dock, serial string }

// recordersOf returns the enrolment (unit, time) of the enrolled recorders
// among serials.
func (w *writer) recordersOf(ctx context.Context, serials []string) (map[string]Recorder, error) {
	out := map[string]Recorder{}
	err := w.chunked(ctx, `SELECT serial, unit, enrolled_ns FROM recorders WHERE serial IN (%s)`, serials, nil, func(rs *sql.Rows) error {
		var r Recorder
		var at int64
		if err := rs.Scan(&r.Serial, &r.Unit, &at); err != nil {
			return err
		}
		r.EnrolledAt = time.Unix(0, at).UTC()
		out[r.Serial] = r
		return nil
	})
	return out, err
}

// authenticated returns which of docks proved holding which of serials
// (RecordersAuthenticated): a stored "authenticated" audit record whose
// hash verified and whose proof verified with the key still enrolled;
// with the newest such proof's time (audit_records.proof_at, 0 unknown).
func (w *writer) authenticated(ctx context.Context, docks, serials []string) (map[dockSerial]int64, error) {
	out := map[dockSerial]int64{}
	slices.Sort(docks)
	docks = slices.Compact(docks)
	for _, d := range docks { // a batch holds few docks
		err := w.chunked(ctx, `SELECT a.serial, MAX(a.proof_at) FROM audit_records a
			JOIN recorders r ON r.serial = a.serial AND r.public_key = a.proof_key
			WHERE a.dock = ? AND a.action = ? AND a.status <> ? AND a.serial IN (%s) GROUP BY a.serial`,
			serials, []any{d, wire.AuditAuthenticated, AuditBroken}, func(rs *sql.Rows) error {
				var s string
				var at int64
				if err := rs.Scan(&s, &at); err != nil {
					return err
				}
				out[dockSerial{d, s}] = at
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// unitsOf returns the unit column of table's rows whose key column is one
// of keys (absent keys are absent from the map).
func (w *writer) unitsOf(ctx context.Context, table, key string, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	err := w.chunked(ctx, `SELECT `+key+`, unit FROM `+table+` WHERE `+key+` IN (%s)`, keys, nil, func(rs *sql.Rows) error {
		var k, u string
		if err := rs.Scan(&k, &u); err != nil {
			return err
		}
		out[k] = u
		return nil
	})
	return out, err
}

// chunked runs query (its %s the placeholders of a chunk of keys, after
// the args before) for the distinct keys, 500 at a time, calling row for
// each row.
func (w *writer) chunked(ctx context.Context, query string, keys []string, before []any, row func(*sql.Rows) error) error {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	const chunk = 500
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(len(keys), start+chunk)]
		args := append(slices.Clone(before), make([]any, 0, len(part))...)
		marks := make([]string, len(part))
		for i, k := range part {
			args, marks[i] = append(args, k), "?"
		}
		rs, err := w.tx.QueryContext(ctx, w.s.d.q(fmt.Sprintf(query, strings.Join(marks, ", "))), args...)
		if err != nil {
			return err
		}
		for rs.Next() {
			if err := row(rs); err != nil {
				rs.Close()
				return err
			}
		}
		if err := errors.Join(rs.Close(), rs.Err()); err != nil {
			return err
		}
	}
	return nil
}

// refusals counts, by alert kind, the reports screening refused in
// committed batches (Store.Refused).
type refusals struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (r *refusals) add(m map[string]int) {
	if len(m) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]uint64{}
	}
	for k, v := range m {
		r.n[k] += uint64(v)
	}
}

// Refused is how many reports screening has refused since Open, for one
// alert kind (KindRecorderRefused, KindReportTime), or how many event-log
// reads Commit kept aside as contradicting an entry's first read
// (KindEventLogConflict): the collector exports it as
// berth_store_reports_refused_total.
func (s *Store) Refused(kind string) uint64 {
	s.refusals.mu.Lock()
	defer s.refusals.mu.Unlock()
	return s.refusals.n[kind]
}
