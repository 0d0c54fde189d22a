package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
)

// result is what the shift-end docking achieved.
type result struct {
	settled bool
	slots   []localapi.Slot
	alerts  []store.Alert
	tally   testworld.Tally // the evidence checks against the recorders' bytes
}

// ok is the demo's verdict: the docking settled, and every footage rule
// held (checked in summary).
func (r result) ok() bool { return r.settled && r.tally.Zero() }

// shift runs the shift-end docking: drop the recorders in one by one, show
// progress until the world has settled (testworld.Settled), analyse, and
// print the summary.
func (w *world) shift(ctx context.Context) (result, error) {
	fmt.Fprintf(w.out, "berth demo: collector (embedded MQTT %s, SQLite, evidence directory), dock %s with %d slots, %d recorders\n",
		w.Col.BrokerURL(), demoDock, len(w.plans), len(w.plans))
	fmt.Fprintf(w.out, "working directory %s; component logs in demo.log\n", w.o.dir)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		fmt.Fprintln(w.out, "NOTE: ffmpeg is not installed, so the collector cannot decode the recorders' AAC audio: interruptions")
		fmt.Fprintln(w.out, "      are raised as \"unchecked\" instead of judged for a spoken reason (apt-get install ffmpeg).")
	}
	fmt.Fprintln(w.out)
	fmt.Fprintln(w.out, "Recorders coming back from the shift:")
	for i, p := range w.plans {
		fmt.Fprintf(w.out, "  slot %d  %s  officer %s  %s\n", i+1, p.Serial, p.Officer, p.shows)
	}
	fmt.Fprintln(w.out)

	sim := w.Sys.Board.Sim()
	deadline := time.Now().Add(w.o.timeout)
	next := 0
	nextDrop := time.Now()
	last := make([]string, len(w.plans))
	for i := range last {
		last[i] = fmt.Sprint(wire.SlotEmpty, "", 0, 0, 0) // an empty slot is not news
	}
	lastPrint := make([]time.Time, len(w.plans))
	var stableSince time.Time
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		now := time.Now()
		if next < len(w.plans) && !now.Before(nextDrop) {
			if err := sim.Insert(next); err != nil {
				return result{}, err
			}
			fmt.Fprintf(w.out, "%6s  slot %d  %s dropped in by officer %s\n", w.elapsed(), next+1, w.plans[next].Serial, w.plans[next].Officer)
			next++
			nextDrop = now.Add(700 * time.Millisecond)
		}
		st := w.Sys.Dock.Status()
		changed := false
		for i, s := range st.Slots {
			line := slotLine(s, w.Sys.Board.Slots()[i].Pattern().String())
			key := fmt.Sprint(s.State, s.Fault, s.Copied, s.Uploaded, s.Released)
			if key != last[i] || (s.State == "copying" && now.Sub(lastPrint[i]) > 2*time.Second && !strings.HasPrefix(last[i], key)) {
				fmt.Fprintf(w.out, "%6s  %s\n", w.elapsed(), line)
				changed = key != last[i]
				last[i], lastPrint[i] = key, now
			}
		}
		if next == len(w.plans) && !changed && testworld.Settled(ctx, st, w.Col.Store()) {
			if stableSince.IsZero() {
				stableSince = now
			} else if now.Sub(stableSince) > 2*time.Second {
				break
			}
		} else {
			stableSince = time.Time{}
		}
		if now.After(deadline) {
			fmt.Fprintf(w.out, "\nThe docking did not settle within %s.\n", w.o.timeout)
			return w.summary(ctx, false)
		}
		select {
		case <-ctx.Done():
			return result{}, ctx.Err()
		case <-tick.C:
		}
	}
	return w.summary(ctx, true)
}

func slotLine(s localapi.Slot, led string) string {
	what := s.State
	switch s.State {
	case wire.SlotReleased, wire.SlotReady:
		what = "SAFE: footage is in the agency's hands"
	case wire.SlotFault:
		what = "FAULT " + s.Fault
	}
	line := fmt.Sprintf("slot %d  %-9s %-40s  %d/%d copied (%s of %s)  %d uploaded  %d released  LED %s",
		s.Index+1, s.Serial, what, s.Copied, s.Segments, mb(s.BytesCopied), mb(s.BytesTotal), s.Uploaded, s.Released, led)
	if s.State == wire.SlotFault && s.Detail != "" {
		line += "\n                " + s.Detail
	}
	return line
}

func mb(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

func (w *world) elapsed() string {
	return fmt.Sprintf("%.1fs", time.Since(w.start).Seconds())
}
