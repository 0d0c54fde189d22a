package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
		case *wire.Docking:
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
	// Two lookups per batch, not one per message.
	var dockIDs, serials []string
	for _, p := range pairs {
		dockIDs = append(dockIDs, p.dock)
		serials = append(serials, p.serial)
	}
	dockUnits, err := w.unitsOf(ctx, "docks", "id", dockIDs)
	if err != nil {
		return err
	}
	recUnits, err := w.unitsOf(ctx, "recorders", "serial", serials)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		dockUnit := dockUnits[p.dock]
		recUnit, enrolled := recUnits[p.serial]
		v := verdict{ok: true, unit: dockUnit}
		switch {
		case enrolled && recUnit != dockUnit:
			v = verdict{unit: recUnit,
				why: fmt.Sprintf("recorder %s is enrolled to unit %s; dock %s serves unit %q", p.serial, recUnit, p.dock, dockUnit)}
		case !enrolled && w.s.policy == RecordersEnrolledOnly:
			v = verdict{unit: dockUnit, why: fmt.Sprintf("recorder %s is not enrolled", p.serial)}
		case enrolled:
			v.unit = recUnit
			if w.enrolledUnit == nil {
				w.enrolledUnit = map[string]string{}
			}
			w.enrolledUnit[p.serial] = recUnit
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

// unitsOf returns the unit column of table's rows whose key column is one
// of keys (absent keys are absent from the map).
func (w *writer) unitsOf(ctx context.Context, table, key string, keys []string) (map[string]string, error) {
	slices.Sort(keys)
	keys = slices.Compact(keys)
	out := make(map[string]string, len(keys))
	const chunk = 500
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(len(keys), start+chunk)]
		args := make([]any, len(part))
		marks := make([]string, len(part))
		for i, k := range part {
			args[i], marks[i] = k, "?"
		}
		rs, err := w.tx.QueryContext(ctx, w.s.d.q(`SELECT `+key+`, unit FROM `+table+` WHERE `+key+` IN (`+strings.Join(marks, ", ")+`)`), args...)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var k, u string
			if err := rs.Scan(&k, &u); err != nil {
				rs.Close()
				return nil, err
			}
			out[k] = u
		}
		if err := errors.Join(rs.Close(), rs.Err()); err != nil {
			return nil, err
		}
	}
	return out, nil
}
