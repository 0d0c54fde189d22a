package reasoncheck

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
)

// devLabel is one line of shared/audio-dev/labels.jsonl.
type devLabel struct {
	File   string   `json:"file"`
	Spoken bool     `json:"reason_spoken"`
	Kind   string   `json:"kind"`
	Noise  string   `json:"noise"`
	SNR    *float64 `json:"snr_db"`
}

// audioDevDir finds the development set: $BERTH_AUDIODEV, else the first
// shared/audio-dev found walking up from the package directory.
func audioDevDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("BERTH_AUDIODEV"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "shared", "audio-dev")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func checkPath(c *Checker, path string) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Result{}, err
	}
	return c.Check(context.Background(), f, st.Size(), Policy{})
}

// TestDevSet runs the check on every clip of the development set and holds
// it to the bar: at least 95% agreement with labels.jsonl, and no
// wrong verdict on a clean clip (noise only, or speech at 10 dB SNR or
// better).
func TestDevSet(t *testing.T) {
	dir := audioDevDir(t)
	lf := filepath.Join(dir, "labels.jsonl")
	fh, err := os.Open(lf)
	if dir == "" || err != nil {
		if os.Getenv("BERTH_REQUIRE_AUDIODEV") != "" {
			t.Fatalf("audio dev set demanded (BERTH_REQUIRE_AUDIODEV) but not found: dir %q: %v", dir, err)
		}
		t.Skip("shared/audio-dev not found (set BERTH_AUDIODEV)")
	}
	defer fh.Close()
	var labels []devLabel
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var l devLabel
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", lf, err)
		}
		labels = append(labels, l)
	}
	if err := sc.Err(); err != nil || len(labels) == 0 {
		t.Fatalf("%s: %d labels, %v", lf, len(labels), err)
	}
	c := New(nil)
	// Check the clips on every CPU (the race detector slows the DSP
	// loops a lot), then judge them in label order.
	results := make([]Result, len(labels))
	errs := make([]error, len(labels))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				results[i], errs[i] = checkPath(c, filepath.Join(dir, labels[i].File))
			}
		})
	}
	for i := range labels {
		next <- i
	}
	close(next)
	wg.Wait()
	type tally struct{ ok, n int }
	byKind := map[string]*tally{}
	ok := 0
	for i, l := range labels {
		res, err := results[i], errs[i]
		if err != nil {
			t.Fatalf("%s: %v", l.File, err)
		}
		kind := l.Kind
		if l.SNR != nil {
			kind = fmt.Sprintf("%s@%gdB", l.Kind, *l.SNR)
		}
		if byKind[kind] == nil {
			byKind[kind] = &tally{}
		}
		byKind[kind].n++
		right := res.ReasonSpoken == l.Spoken
		if right {
			ok++
			byKind[kind].ok++
		}
		clean := l.Kind == "noise" || (l.Kind == "speech" && l.SNR != nil && *l.SNR >= 10)
		switch {
		case !right && clean:
			t.Errorf("%s (%s, %s): clean case judged reason_spoken=%v with %.2f s of speech, want %v",
				l.File, kind, l.Noise, res.ReasonSpoken, res.SpeechSeconds, l.Spoken)
		case !right:
			t.Logf("%s (%s, %s): wrong verdict reason_spoken=%v with %.2f s of speech (not a clean case)",
				l.File, kind, l.Noise, res.ReasonSpoken, res.SpeechSeconds)
		}
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		t.Logf("%-16s %2d/%2d", k, byKind[k].ok, byKind[k].n)
	}
	acc := float64(ok) / float64(len(labels))
	t.Logf("agreement %d/%d = %.1f%%", ok, len(labels), 100*acc)
	if acc < 0.95 {
		t.Errorf("agreement %.1f%% < 95%%", 100*acc)
	}
}
