package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// screen drops from the batch's fresh messages the reports a dock may not
// make (DESIGN.md, "Trust and judgement"): a health report or a segment
// manifest for a recorder enrolled to another unit (or, under
// RecordersEnrolledOnly, not enrolled at all), and a health report dated
// beyond the allowed skew ahead of the collector's clock, which would
// otherwise win "newest" for ever. A dropped message is still committed
// as a message id, so the dock's outbox is acknowledged and stops
// resending; it changes nothing else. Each refusal is logged and raises
// an alert to the recorder's enrolled unit (else the dock's).
func (w *writer) screen(ctx context.Context) error {
	type pair struct{ dock, serial string }
	type verdict struct {
		ok        bool
		why, unit string
	}
	verdicts := map[pair]verdict{}
	var pairs []pair
	for _, i := range w.fresh {
		var serial string
		switch b := w.msgs[i].Body.(type) {
		case *wire.DeviceHealth:
			serial = b.Serial
		case *wire.SegmentManifest:
			serial = b.Serial
		default:
			continue
		}
		p := pair{w.msgs[i].Env.Dock, serial}
		if _, seen := verdicts[p]; !seen {
			verdicts[p] = verdict{}
			pairs = append(pairs, p)
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if a.dock != b.dock {
			return cmp.Compare(a.dock, b.dock)
		}
		return cmp.Compare(a.serial, b.serial)
	})
	for _, p := range pairs {
		var dockUnit string
		var recUnit sql.NullString
		if err := w.tx.QueryRowContext(ctx, w.s.d.q(`SELECT COALESCE((SELECT unit FROM docks WHERE id = ?), ''),
			(SELECT unit FROM recorders WHERE serial = ?)`), p.dock, p.serial).Scan(&dockUnit, &recUnit); err != nil {
			return err
		}
		v := verdict{ok: true, unit: dockUnit}
		switch {
		case recUnit.Valid && recUnit.String != dockUnit:
			v = verdict{unit: recUnit.String,
				why: fmt.Sprintf("recorder %s is enrolled to unit %s; dock %s serves unit %q", p.serial, recUnit.String, p.dock, dockUnit)}
		case !recUnit.Valid && w.s.policy == RecordersEnrolledOnly:
			v = verdict{unit: dockUnit, why: fmt.Sprintf("recorder %s is not enrolled", p.serial)}
		case recUnit.Valid:
			v.unit = recUnit.String
			if w.enrolledUnit == nil {
				w.enrolledUnit = map[string]string{}
			}
			w.enrolledUnit[p.serial] = recUnit.String
		}
		verdicts[p] = v
	}
	limit := time.Unix(0, w.now).Add(w.s.skew)
	kept := w.fresh[:0:0]
	for _, i := range w.fresh {
		m := w.msgs[i]
		var serial string
		var alert Alert
		switch b := m.Body.(type) {
		case *wire.DeviceHealth:
			serial = b.Serial
			if v := verdicts[pair{m.Env.Dock, serial}]; v.ok && (b.DockedAt.After(limit) || b.DockClock.After(limit)) {
				alert = Alert{Key: fmt.Sprintf("%s/%s/%s", KindReportTime, m.Env.Dock, serial), Kind: KindReportTime,
					Severity: "warning", Unit: v.unit, Serial: serial, Dock: m.Env.Dock,
					Title: fmt.Sprintf("Dock %s reported recorder %s docked in the future", m.Env.Dock, serial),
					Detail: fmt.Sprintf("docked_at %s, dock clock %s: more than %s ahead of the collector's clock %s; the report is ignored",
						b.DockedAt.Format(time.RFC3339), b.DockClock.Format(time.RFC3339), w.s.skew, time.Unix(0, w.now).UTC().Format(time.RFC3339))}
			}
		case *wire.SegmentManifest:
			serial = b.Serial
		default:
			kept = append(kept, i)
			continue
		}
		if v := verdicts[pair{m.Env.Dock, serial}]; !v.ok {
			alert = Alert{Key: fmt.Sprintf("%s/report/%s/%s", KindRecorderRefused, m.Env.Dock, serial), Kind: KindRecorderRefused,
				Severity: "warning", Unit: v.unit, Serial: serial, Dock: m.Env.Dock,
				Title:  fmt.Sprintf("Dock %s reported on recorder %s, which it may not handle", m.Env.Dock, serial),
				Detail: v.why + "; the " + m.Env.Type + " report is ignored"}
		}
		if alert.Key == "" {
			kept = append(kept, i)
			continue
		}
		if alert.Unit == "" {
			alert.Unit = "unassigned"
		}
		alert.At = time.Unix(0, w.now).UTC()
		w.s.log.Warn("store: report refused", "dock", m.Env.Dock, "msg", m.Env.ID, "type", m.Env.Type, "serial", serial,
			"kind", alert.Kind, "detail", alert.Detail)
		if _, err := w.s.upsertAlertTx(ctx, w.tx, alert, "{}"); err != nil {
			return err
		}
	}
	w.fresh = kept
	return nil
}
