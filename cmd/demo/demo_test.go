package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDemoShiftEndDocking runs the README's main command in-process: the
// shift-end docking must settle; the evidence checks, made against each
// recorder's bytes read before docking, must find nothing lost, altered,
// stored twice, badly receipted or released early, with exactly the
// segments the fleet allows released; and the collector's store must hold
// exactly the findings the fleet was built to show.
func TestDemoShiftEndDocking(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes several seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	res, code := runShift(ctx, []string{"--dir", t.TempDir(), "--timeout", "3m"}, &out, &errb, browseConsole(t))
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, errb.String())
	}
	// 4 + 2 (one lying segment kept) + 0 (a hole: nothing released, all
	// 3 listed uploaded) + 2 + 0 (refused).
	if tl := res.tally; !tl.Zero() || tl.Released != 8 || tl.Objects != 11 || tl.Segments != 13 {
		t.Errorf("evidence checks: %v; want 13 segments (one hidden by the hole), 11 objects, 8 released, all zeros", tl)
	}
	released := map[string]int{}
	for _, s := range res.slots {
		released[s.Serial] = s.Released
	}
	if want := map[string]int{"BWC-0101": 4, "BWC-0102": 2, "BWC-0103": 0, "BWC-0104": 2, "BWC-0999": 0}; !maps.Equal(released, want) {
		t.Errorf("released per recorder %v, want %v", released, want)
	}

	// Exactly these findings (kind, recorder, segment, state), from the
	// collector's store.
	type finding struct {
		kind, serial string
		seq          uint64
		state        string
	}
	want := []finding{
		{"interruption-explained", "BWC-0101", 3, "closed"}, // low battery, resumed with the spoken reason
		{"interruption-unexplained", "BWC-0101", 4, "open"}, // fault, resumed without it
		{"battery-worn", "BWC-0102", 0, "open"},
		{"hash-mismatch", "BWC-0102", 2, "open"},
		{"clock-drift", "BWC-0103", 0, "open"},
		{"sequence-hole", "BWC-0103", 3, "open"},
		{"abnormal-no-resume", "BWC-0104", 2, "open"},
		{"firmware-old", "BWC-0104", 0, "open"},
		{"late-upload", "BWC-0104", 1, "open"},
		{"late-upload", "BWC-0104", 2, "open"},
	}
	// The fixtures' audio is AAC, which the collector decodes with ffmpeg.
	judged := true
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("BERTH_REQUIRE_FFMPEG") != "" {
			t.Fatal("ffmpeg is required (BERTH_REQUIRE_FFMPEG is set) but not on PATH")
		}
		t.Log("ffmpeg missing: the two interruptions are only checked to be raised unchecked")
		judged = false
		want[0].kind, want[1].kind = "interruption-unchecked", "interruption-unchecked"
	}
	var got []finding
	for _, a := range res.alerts {
		got = append(got, finding{a.Kind, a.Serial, a.Seq, a.State})
	}
	cmp := func(a, b finding) int {
		return strings.Compare(fmt.Sprint(a.serial, a.kind, a.seq), fmt.Sprint(b.serial, b.kind, b.seq))
	}
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	same := slices.EqualFunc(got, want, func(a, b finding) bool {
		return a.kind == b.kind && a.serial == b.serial && a.seq == b.seq && (a.state == b.state || !judged && strings.HasPrefix(a.kind, "interruption-"))
	})
	if !same {
		t.Errorf("findings\n%v\nwant\n%v", got, want)
	}

	// The narration shows each slot's outcome and claims byte-exactness
	// only after the comparison.
	s := out.String()
	wants := []string{
		"SAFE: footage is in the agency's hands",
		"FAULT hash-mismatch", "FAULT sequence-hole", "FAULT auth",
		"each of the 11 objects in the evidence store was read back and is byte-exact to the recorder's original",
	}
	if !judged {
		wants = append(wants, "ffmpeg is not installed")
	}
	for _, want := range wants {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
