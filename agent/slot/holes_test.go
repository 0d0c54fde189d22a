package slot

import (
	"path/filepath"
	"testing"

	"github.com/berthdock/berth/agent/buffer"
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
	h, _, _ := NewHoleReleases(nil)
	allow := func(serial string, from, to uint64) {
		if err := h.Allow(buffer.HoleRelease{Serial: serial, From: from, To: to}); err != nil {
			t.Fatal(err)
		}
	}
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
		{"decision for another recorder", func() { allow("R2", 3, 4) }, "R1", seqs(1, 2, 5, 9), idle, "sequence 3..4 missing"},
		{"decision on part of the hole", func() { allow("R1", 3, 3) }, "R1", seqs(1, 2, 5, 9), idle, "sequence 3..4 missing"},
		{"first hole decided, second not", func() { allow("R1", 3, 4) }, "R1", seqs(1, 2, 5, 9), idle, "sequence 6..8 missing"},
		{"every hole decided", func() { allow("R1", 6, 8) }, "R1", seqs(1, 2, 5, 9), idle, ""},
		{"lost tail withholds", nil, "R1", seqs(1, 2, 5, 9), docklink.Status{Recording: docklink.RecordingIdle, LastSeq: 12},
			"sequence 10..12 missing after the last listed segment"},
		{"lost tail decided", func() { allow("R1", 10, 12) }, "R1", seqs(1, 2, 5, 9), docklink.Status{Recording: docklink.RecordingIdle, LastSeq: 12}, ""},
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

// A decision the dock received is kept in its buffer: after a restart
// (the buffer closed and opened again) it still covers its hole, and the
// same decision received twice is kept once.
func TestHoleReleasesKeptAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	kf := filepath.Join(dir, "buffer.key")
	if err := buffer.WriteKeyFile(kf); err != nil {
		t.Fatal(err)
	}
	open := func() *buffer.Buffer {
		b, err := buffer.Open(filepath.Join(dir, "db"), &buffer.Opts{KeyFile: kf, Reserve: 1 << 20, MemTableSize: 1 << 20, ValueLogFileSize: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	segs := []docklink.Segment{{Seq: 1}, {Seq: 2}, {Seq: 5}}
	st := docklink.Status{Recording: docklink.RecordingIdle, LastSeq: 5}
	b := open()
	h, bad, err := NewHoleReleases(b)
	if err != nil || bad != 0 {
		t.Fatalf("NewHoleReleases on an empty buffer: %d bad, %v", bad, err)
	}
	if got := withheld("R1", segs, st, h); got != "sequence 3..4 missing" {
		t.Fatalf("before the decision: %q", got)
	}
	d := buffer.HoleRelease{Serial: "R1", From: 3, To: 4, By: "sup-li", Reason: "recorder dropped in the river"}
	for range 2 {
		if err := h.Allow(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Allow(buffer.HoleRelease{Serial: "R1", From: 4, To: 3}); err == nil {
		t.Fatal("a reversed range was kept")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open()
	defer b.Close()
	h, bad, err = NewHoleReleases(b)
	if err != nil || bad != 0 {
		t.Fatalf("NewHoleReleases after the restart: %d bad, %v", bad, err)
	}
	if got := withheld("R1", segs, st, h); got != "" {
		t.Fatalf("after the restart the decision is gone: %q", got)
	}
	kept, _, err := b.HoleReleases()
	if err != nil || len(kept) != 1 || kept[0].By != "sup-li" || kept[0].Reason != d.Reason {
		t.Fatalf("kept = %+v, %v; want the one decision with who and why", kept, err)
	}
}
