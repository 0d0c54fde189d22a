package timeline

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

func at(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }

func TestEventLogExplainsStops(t *testing.T) {
	now := t0.Add(20 * time.Hour)
	p := rules.DefaultPolicy()
	tests := []struct {
		name      string
		segs      []Segment
		evs       []Event
		syncs     []Sync
		wantKind  string
		wantCause string
		fromLog   bool
		wantNear  []uint64 // event indexes attached
	}{
		{name: "alarm names the cause",
			segs: []Segment{seg(1, 0, 10, wire.StopUnknown), seg(2, 15, 20, wire.StopUser)},
			evs: []Event{{Index: 1, Time: at(0), Kind: wire.EventRecordStart, Seq: 1}, {Index: 2, Time: at(9.9), Kind: wire.EventLowBattery, Seq: 1},
				{Index: 3, Time: at(10), Kind: wire.EventRecordStop, Seq: 1}, {Index: 4, Time: at(15), Kind: wire.EventRecordStart, Seq: 2},
				{Index: 5, Time: at(40), Kind: wire.EventButtonMark}},
			wantKind: KindInterruption, wantCause: wire.StopLowBattery, fromLog: true, wantNear: []uint64{2, 3, 4}},
		{name: "power-off at the end, on a drifting clock",
			// The device clock ran 90 s ahead; the dock measured it at 60 min.
			segs:     []Segment{seg(1, 1.5, 11.5, wire.StopUnknown), seg(2, 16.5, 20, wire.StopUser)},
			evs:      []Event{{Index: 7, Time: at(11.5).Add(2 * time.Second), Kind: wire.EventPowerOff}, {Index: 8, Time: at(16), Kind: wire.EventPowerOn}},
			syncs:    []Sync{{At: at(60), Offset: 90 * time.Second}},
			wantKind: KindInterruption, wantCause: wire.StopPowerLoss, fromLog: true, wantNear: []uint64{7, 8}},
		{name: "the listing's own cause wins",
			segs:     []Segment{seg(1, 0, 10, wire.StopUser), seg(2, 12, 20, wire.StopUser)},
			evs:      []Event{{Index: 1, Time: at(10), Kind: wire.EventFault, Seq: 1, Detail: "encoder"}},
			wantKind: KindInterruption, wantCause: wire.StopUser, wantNear: []uint64{1}},
		{name: "record-stop detail",
			segs:     []Segment{seg(1, 0, 10, wire.StopUnknown)},
			evs:      []Event{{Index: 3, Time: at(10), Kind: wire.EventRecordStop, Seq: 1, Detail: wire.StopStorageFull}},
			wantKind: KindAbnormalNoResume, wantCause: wire.StopStorageFull, fromLog: true, wantNear: []uint64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := BuildWithEvents("R1", tt.segs, tt.evs, tt.syncs, p)
			fs := Analyze(tl, p, now)
			if len(fs) != 1 || fs[0].Kind != tt.wantKind {
				t.Fatalf("findings %v, want one %s", kinds(fs), tt.wantKind)
			}
			f := fs[0]
			if f.StopCause != tt.wantCause || (f.StopCauseFrom == CauseFromLog) != tt.fromLog {
				t.Errorf("cause %q from %q, want %q (from log %v)", f.StopCause, f.StopCauseFrom, tt.wantCause, tt.fromLog)
			}
			if tt.fromLog != strings.Contains(f.Detail, "event log") {
				t.Errorf("detail %q", f.Detail)
			}
			var got []uint64
			for _, e := range f.Events {
				got = append(got, e.Index)
			}
			if !slices.Equal(got, tt.wantNear) {
				t.Errorf("events near the finding %v, want %v", got, tt.wantNear)
			}
		})
	}
	// Without the log, the same unknown stop stays unknown.
	fs := Analyze(Build("R1", tests[0].segs, nil, p), p, now)
	if len(fs) != 1 || fs[0].StopCause != wire.StopUnknown || fs[0].Events != nil {
		t.Errorf("without events: %+v", fs)
	}
}

// TestEventLogNamesMissingFootage: a hole's finding carries the log's
// entries for the missing numbers (they were recorded, then freed).
func TestEventLogNamesMissingFootage(t *testing.T) {
	p := rules.DefaultPolicy()
	segs := []Segment{seg(1, 0, 10, wire.StopUser), seg(4, 300, 310, wire.StopUser)}
	evs := []Event{{Index: 1, Time: at(100), Kind: wire.EventRecordStart, Seq: 2}, {Index: 2, Time: at(110), Kind: wire.EventRecordStop, Seq: 2},
		{Index: 3, Time: at(200), Kind: wire.EventReleased, Seq: 3}, {Index: 4, Time: at(250), Kind: wire.EventButtonMark}}
	fs := Analyze(BuildWithEvents("R1", segs, evs, nil, p), p, t0.Add(20*time.Hour))
	if len(fs) != 1 || fs[0].Kind != KindSequenceHole {
		t.Fatalf("findings %v", kinds(fs))
	}
	if n := len(fs[0].Events); n != 3 {
		t.Errorf("%d events with the hole, want the 3 naming seq 2..3", n)
	}
	if !strings.Contains(fs[0].Detail, "released seq 3") {
		t.Errorf("detail %q", fs[0].Detail)
	}
}

// TestNearBounded: a busy log gives at most maxNear events, the closest.
func TestNearBounded(t *testing.T) {
	p := rules.DefaultPolicy()
	segs := []Segment{seg(1, 0, 10, wire.StopUser), seg(2, 12, 20, wire.StopUser)}
	var evs []Event
	for i := range 100 {
		evs = append(evs, Event{Index: uint64(i + 1), Time: at(8 + float64(i)*0.06), Kind: wire.EventButtonMark})
	}
	fs := Analyze(BuildWithEvents("R1", segs, evs, nil, p), p, t0.Add(20*time.Hour))
	if len(fs) != 1 || len(fs[0].Events) != maxNear {
		t.Fatalf("findings %v, %d events", kinds(fs), len(fs[0].Events))
	}
	for i := 1; i < len(fs[0].Events); i++ {
		if fs[0].Events[i].Time.Before(fs[0].Events[i-1].Time) {
			t.Fatal("events not in time order")
		}
	}
}
