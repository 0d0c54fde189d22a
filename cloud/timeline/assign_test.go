package timeline

import (
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// TestAssignedOfficer: footage recorded while the recorder was checked out
// is the officer's who took it, in segments and findings; outside the
// checkout (before the tap, after the next docking) the configured officer
// stands, and a later checkout wins over an earlier one still open.
func TestAssignedOfficer(t *testing.T) {
	p := rules.DefaultPolicy()
	segs := []Segment{seg(1, 0, 10, wire.StopUser), seg(2, 12, 20, wire.StopUser), seg(3, 300, 310, wire.StopUser), seg(4, 600, 610, wire.StopUser)}
	as := []Assignment{{Officer: "o-77", From: at(-30), Until: at(200)}, {Officer: "o-55", From: at(250)}, {Officer: "o-99", From: at(500)}}
	tl := Build("R1", segs, nil, p)
	tl.Assign(as)
	want := []string{"o-77", "o-77", "o-55", "o-99"}
	for i, s := range tl.Segments {
		if s.Officer != want[i] {
			t.Errorf("seq %d officer %q, want %q", s.Seq, s.Officer, want[i])
		}
	}
	fs := Analyze(tl, p, t0.Add(20*time.Hour))
	if len(fs) != 1 || fs[0].Kind != KindInterruption || fs[0].Officer != "o-77" {
		t.Fatalf("findings %+v", fs)
	}
	if o := OfficerAt(as, at(-31)); o != "" {
		t.Errorf("before any tap: %q", o)
	}
	if o := OfficerAt(as, at(200)); o != "" {
		t.Errorf("at the next docking: %q", o)
	}
}
