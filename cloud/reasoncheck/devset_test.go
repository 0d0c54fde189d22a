package reasoncheck

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// devLabel is one line of a development set's labels.jsonl (shared/audio-dev
// and shared/audio-dev-v2; the second adds condition and wearer_speech_s).
type devLabel struct {
	File      string   `json:"file"`
	Spoken    bool     `json:"reason_spoken"`
	Kind      string   `json:"kind"`
	Noise     string   `json:"noise"`
	SNR       *float64 `json:"snr_db"`
	Condition string   `json:"condition"`
	Judgement bool     `json:"judgement_call"`
	Wearer    *float64 `json:"wearer_speech_s"`

	heldOut bool // in the held-out part (see split)
}

// cond is the condition a clip is reported under.
func (l devLabel) cond() string {
	if l.Condition != "" {
		return l.Condition
	}
	if l.SNR != nil {
		return fmt.Sprintf("%s@%gdB", l.Kind, *l.SNR)
	}
	return l.Kind
}

// split marks the held-out part of a development set: within each
// condition, clips sorted by file name, every third one (the 3rd, 6th, ...).
// The rule is fixed and blind to the audio, so the held-out clips are the
// same in every run; detector changes are tuned on the other two thirds
// only, and the held-out third is reported on its own.
func split(labels []devLabel) {
	by := map[string][]int{}
	for i, l := range labels {
		by[l.cond()] = append(by[l.cond()], i)
	}
	for _, idx := range by {
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(labels[a].File, labels[b].File) })
		for k, i := range idx {
			labels[i].heldOut = k%3 == 2
		}
	}
}

// devSetDir finds a development set: $env, else the first shared/<name>
// found walking up from the package directory; "" when there is none.
func devSetDir(t *testing.T, env, name string) string {
	t.Helper()
	if d := os.Getenv(env); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "shared", name)
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// loadDevSet reads a set's labels, or skips when the set is absent and
// BERTH_REQUIRE_AUDIODEV is unset.
func loadDevSet(t *testing.T, env, name string) (string, []devLabel) {
	t.Helper()
	dir := devSetDir(t, env, name)
	lf := filepath.Join(dir, "labels.jsonl")
	fh, err := os.Open(lf)
	if dir == "" || err != nil {
		if os.Getenv("BERTH_REQUIRE_AUDIODEV") != "" {
			t.Fatalf("audio dev set %s demanded (BERTH_REQUIRE_AUDIODEV) but not found: dir %q (set %s): %v", name, dir, env, err)
		}
		t.Skipf("shared/%s not found (set %s)", name, env)
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
	split(labels)
	return dir, labels
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

// checkAll checks every clip on every CPU (the race detector slows the DSP
// loops a lot).
func checkAll(t *testing.T, dir string, labels []devLabel) []Result {
	t.Helper()
	c := New(nil)
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
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", labels[i].File, err)
		}
	}
	return results
}

// score is a tally of verdicts against labels.
type score struct {
	ok, n            int
	falseSpoken, neg int // negatives judged spoken, negatives
}

func (s *score) add(l devLabel, r Result) {
	s.n++
	if r.ReasonSpoken == l.Spoken {
		s.ok++
	}
	if !l.Spoken {
		s.neg++
		if r.ReasonSpoken {
			s.falseSpoken++
		}
	}
}

func (s score) acc() float64 { return float64(s.ok) / float64(max(1, s.n)) }
func (s score) String() string {
	return fmt.Sprintf("%2d/%2d = %5.1f%%, false spoken %d/%d", s.ok, s.n, 100*s.acc(), s.falseSpoken, s.neg)
}

// report logs the tallies per condition and per part (tuning, held-out).
func report(t *testing.T, labels []devLabel, results []Result) (all, tune, held score) {
	t.Helper()
	by := map[string]*[2]score{}
	for i, l := range labels {
		r := results[i]
		part := 0
		if l.heldOut {
			part = 1
			held.add(l, r)
		} else {
			tune.add(l, r)
		}
		all.add(l, r)
		if by[l.cond()] == nil {
			by[l.cond()] = &[2]score{}
		}
		by[l.cond()][part].add(l, r)
		if r.ReasonSpoken != l.Spoken {
			var why []string
			for _, g := range r.Regions {
				why = append(why, fmt.Sprintf("%.2f–%.2f %s %.2fs (%s)", g.Start, g.End, g.Source, g.SpeechSeconds, g.Why))
			}
			p := "tune"
			if l.heldOut {
				p = "held-out"
			}
			t.Logf("wrong [%s] %s (%s, %s): spoken=%v with %.2f s, want %v; regions: %s",
				p, l.File, l.cond(), l.Noise, r.ReasonSpoken, r.SpeechSeconds, l.Spoken, strings.Join(why, "; "))
		}
	}
	conds := make([]string, 0, len(by))
	for k := range by {
		conds = append(conds, k)
	}
	sort.Strings(conds)
	t.Logf("%-18s %-32s %s", "condition", "tuning part", "held-out part")
	for _, k := range conds {
		t.Logf("%-18s %-32s %s", k, by[k][0], by[k][1])
	}
	t.Logf("tuning part:   %s", tune)
	t.Logf("held-out part: %s", held)
	t.Logf("all:           %s", all)
	return all, tune, held
}

// TestDevSet runs the check on every clip of shared/audio-dev and holds it
// to its bar: at least 95 % agreement, and no wrong verdict on a clean clip
// (noise only, or speech at 10 dB SNR or better), and no negative judged
// spoken.
func TestDevSet(t *testing.T) {
	dir, labels := loadDevSet(t, "BERTH_AUDIODEV", "audio-dev")
	results := checkAll(t, dir, labels)
	for i, l := range labels {
		res := results[i]
		clean := l.Kind == "noise" || (l.Kind == "speech" && l.SNR != nil && *l.SNR >= 10)
		if res.ReasonSpoken != l.Spoken && clean {
			t.Errorf("%s (%s, %s): clean case judged reason_spoken=%v with %.2f s of speech, want %v",
				l.File, l.cond(), l.Noise, res.ReasonSpoken, res.SpeechSeconds, l.Spoken)
		}
	}
	all, _, _ := report(t, labels, results)
	if all.acc() < 0.95 {
		t.Errorf("agreement %.1f%% < 95%%", 100*all.acc())
	}
	if all.falseSpoken > 0 {
		t.Errorf("%d negatives judged spoken", all.falseSpoken)
	}
}

// TestDevSetV2 runs the check on shared/audio-dev-v2 (bystanders, radio and
// TV, music, prompts, short utterances, reverberation, sirens, low SNR) and
// holds it to issue 16's bar: at least 90 % agreement and at most 5 % of
// the negatives judged spoken (1 of 30). The detector reaches 58/60 with 1
// false "spoken" (the reverberant bystander dev2-032, see the logged gap).
func TestDevSetV2(t *testing.T) {
	dir, labels := loadDevSet(t, "BERTH_AUDIODEV_V2", "audio-dev-v2")
	results := checkAll(t, dir, labels)
	all, _, _ := report(t, labels, results)
	if all.acc() < 0.90 {
		t.Errorf("agreement %.1f%% < 90%%", 100*all.acc())
	}
	if fs := float64(all.falseSpoken) / float64(max(1, all.neg)); fs > 0.05 {
		t.Errorf("false spoken on %d of %d negatives (%.1f%% > 5%%)", all.falseSpoken, all.neg, 100*fs)
	}
}
