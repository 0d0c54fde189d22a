package analysis

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/timeline"
	"github.com/berthdock/berth/cloud/wire"
)

// TestEventLogInAlerts: the recorder's event log, as read by the dock it
// was docked in, explains a stop its listing left unknown, and the alert
// shows the log's entries around the gap; another dock's word on the same
// log is not taken. A later read that contradicts an entry changes
// nothing: the first read stands, shown disputed.
func TestEventLogInAlerts(t *testing.T) {
	now := t0.Add(30 * time.Hour)
	w := newInvWorld(t, now, speechBySeq{})
	start := t0.Add(20 * time.Hour)
	w.plan(start, 2, map[uint64]string{1: wire.StopUnknown}, map[uint64]time.Duration{1: 5 * time.Minute})
	w.dock(2, 1, 2)
	end1 := start.Add(10 * time.Minute)
	commit(t, w.st, "dock-1", &w.n, wire.TypeRecorderEvents, &wire.RecorderEvents{Serial: "R1", DockedAt: w.docked,
		Events: []wire.RecorderEvent{
			{Index: 10, Time: start, Kind: wire.EventRecordStart, Seq: 1},
			{Index: 11, Time: end1.Add(-time.Second), Kind: wire.EventLowBattery, Seq: 1, Detail: "battery 3%"},
			{Index: 12, Time: end1, Kind: wire.EventRecordStop, Seq: 1},
			{Index: 13, Time: end1.Add(5 * time.Minute), Kind: wire.EventRecordStart, Seq: 2}}})
	// dock-2 never reported this recorder docked in it.
	commit(t, w.st, "dock-2", &w.n, wire.TypeRecorderEvents, &wire.RecorderEvents{Serial: "R1", DockedAt: w.docked,
		Events: []wire.RecorderEvent{{Index: 14, Time: end1.Add(time.Second), Kind: wire.EventFault, Seq: 1, Detail: "forged"}}})
	commit(t, w.st, "dock-1", &w.n, wire.TypeRecorderEvents, &wire.RecorderEvents{Serial: "R1", DockedAt: w.docked,
		Events: []wire.RecorderEvent{{Index: 11, Time: end1.Add(-time.Second), Kind: wire.EventFault, Seq: 1, Detail: "forged"}}})
	w.arrive(1)
	w.arrive(2)
	w.pass()
	var got *alert.Alert
	for i, a := range w.got {
		if strings.HasPrefix(a.Kind, "interruption") {
			got = &w.got[i]
		}
	}
	if got == nil {
		t.Fatalf("no interruption alert among %d deliveries", len(w.got))
	}
	ev := got.Evidence
	if ev.StopCause != wire.StopLowBattery || ev.StopCauseFrom != timeline.CauseFromLog {
		t.Errorf("stop cause %q from %q: want low-battery from the event log", ev.StopCause, ev.StopCauseFrom)
	}
	var idx []uint64
	for _, e := range ev.Events {
		idx = append(idx, e.Index)
		if e.Disputed != (e.Index == 11) || e.Index == 11 && e.Kind != wire.EventLowBattery {
			t.Errorf("event %+v: want entry 11 as first read, disputed; the others not", e)
		}
	}
	if !slices.Equal(idx, []uint64{11, 12, 13}) {
		t.Errorf("events with the alert %v, want 11..13 (not the record start 10 min before, not dock-2's)", idx)
	}
	if !strings.Contains(got.Detail, "event log") {
		t.Errorf("detail %q does not say where the cause came from", got.Detail)
	}
}

// TestCheckoutNamesCarrier: an officer who checked the recorder out at the
// dock it was docked in is the one alerts name, not its configured officer.
func TestCheckoutNamesCarrier(t *testing.T) {
	now := t0.Add(30 * time.Hour)
	w := newInvWorld(t, now, speechBySeq{})
	start := t0.Add(20 * time.Hour)
	w.plan(start, 2, nil, map[uint64]time.Duration{1: 2 * time.Minute})
	*w.now = start.Add(-time.Hour)
	w.health() // docked before the shift
	commit(t, w.st, "dock-1", &w.n, wire.TypeCheckout, &wire.Checkout{Serial: "R1", Officer: "o-carrier", Slot: 1, At: start.Add(-30 * time.Minute)})
	*w.now = now
	w.dock(2, 1, 2)
	w.arrive(1)
	w.arrive(2)
	w.pass()
	found := false
	for _, a := range w.got {
		if strings.HasPrefix(a.Kind, "interruption") {
			found = true
			if a.Officer != "o-carrier" {
				t.Errorf("alert names %q, want the officer who checked the recorder out", a.Officer)
			}
		}
	}
	if !found {
		t.Fatalf("no interruption alert among %d deliveries", len(w.got))
	}
}
