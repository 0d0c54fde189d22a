package slot

import (
	"testing"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// A hole withholds releases until a supervisor's decision names it; a
// decision on one hole, or on another recorder, releases nothing else.
func TestHoleReleaseDecision(t *testing.T) {
	seqs := func(ns ...uint64) []docklink.Segment {
		var out []docklink.Segment
		for _, n := range ns {
			out = append(out, docklink.Segment{Seq: n})
		}
		return out
	}
	idle := docklink.Status{Recording: docklink.RecordingIdle, LastSeq: 9}
	h := NewHoleReleases()
	for _, tc := range []struct {
		name   string
		allow  func()
		serial string
		segs   []docklink.Segment
		st     docklink.Status
		want   string
	}{
		{"no hole", nil, "R1", seqs(1, 2, 3), docklink.Status{LastSeq: 3}, ""},
		{"hole withholds", nil, "R1", seqs(1, 2, 5, 9), idle, "sequence 3..4 missing"},
		{"decision for another recorder", func() { h.Allow("R2", 3, 4) }, "R1", seqs(1, 2, 5, 9), idle, "sequence 3..4 missing"},
		{"decision on part of the hole", func() { h.Allow("R1", 3, 3) }, "R1", seqs(1, 2, 5, 9), idle, "sequence 3..4 missing"},
		{"first hole decided, second not", func() { h.Allow("R1", 3, 4) }, "R1", seqs(1, 2, 5, 9), idle, "sequence 6..8 missing"},
		{"every hole decided", func() { h.Allow("R1", 6, 8) }, "R1", seqs(1, 2, 5, 9), idle, ""},
		{"lost tail withholds", nil, "R1", seqs(1, 2, 5, 9), docklink.Status{Recording: docklink.RecordingIdle, LastSeq: 12},
			"sequence 10..12 missing after the last listed segment"},
		{"lost tail decided", func() { h.Allow("R1", 10, 12) }, "R1", seqs(1, 2, 5, 9), docklink.Status{Recording: docklink.RecordingIdle, LastSeq: 12}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.allow != nil {
				tc.allow()
			}
			if got := withheld(tc.serial, tc.segs, tc.st, h); got != tc.want {
				t.Fatalf("withheld = %q, want %q", got, tc.want)
			}
		})
	}
	if got := holes(seqs(1, 2, 5, 9), idle); got != "sequence 3..4 missing" {
		t.Fatalf("without decisions: %q", got)
	}
}
