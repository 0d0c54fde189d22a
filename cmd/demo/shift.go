package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// result is what the shift-end docking achieved.
type result struct {
	settled bool
	slots   []localapi.Slot
	alerts  []store.Alert
}

// ok is the demo's verdict: the docking settled, and every footage rule
// held (checked in summary).
func (r result) ok() bool { return r.settled }

// shift runs the shift-end docking: start everything, drop the recorders
// in one by one, show progress until the dock has settled, analyse, and
// print the summary.
func (w *world) shift(ctx context.Context) (result, error) {
	ctx, w.cancel = context.WithCancel(ctx)
	fmt.Fprintf(w.out, "berth demo: collector (embedded MQTT %s, SQLite, evidence directory), dock %s with %d slots, %d recorders\n",
		w.col.BrokerURL(), demoDock, len(w.plans), len(w.plans))
	fmt.Fprintf(w.out, "working directory %s; component logs in demo.log\n", w.o.dir)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		fmt.Fprintln(w.out, "NOTE: ffmpeg is not installed, so the collector cannot decode the recorders' AAC audio: interruptions")
		fmt.Fprintln(w.out, "      are raised as \"unchecked\" instead of judged for a spoken reason (apt-get install ffmpeg).")
	}
	fmt.Fprintln(w.out)
	w.goRun(ctx, "collector", w.col.Run)
	w.goRun(ctx, "recsim", w.recs.Run)
	select {
	case <-w.col.Ingest().Ready():
	case <-ctx.Done():
		return result{}, ctx.Err()
	case <-time.After(30 * time.Second):
		return result{}, fmt.Errorf("collector ingest not ready after 30 s")
	}
	w.goRun(ctx, "dock", w.sys.Dock.Run)

	fmt.Fprintln(w.out, "Recorders coming back from the shift:")
	for i, p := range w.plans {
		fmt.Fprintf(w.out, "  slot %d  %s  officer %s  %s\n", i+1, p.serial, p.officer, p.shows)
	}
	fmt.Fprintln(w.out)

	sim := w.sys.Board.Sim()
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
			fmt.Fprintf(w.out, "%6s  slot %d  %s dropped in by officer %s\n", w.elapsed(), next+1, w.plans[next].serial, w.plans[next].officer)
			next++
			nextDrop = now.Add(700 * time.Millisecond)
		}
		st := w.sys.Dock.Status()
		changed := false
		for i, s := range st.Slots {
			line := slotLine(s, w.sys.Board.Slots()[i].Pattern().String())
			key := fmt.Sprint(s.State, s.Fault, s.Copied, s.Uploaded, s.Released)
			if key != last[i] || (s.State == "copying" && now.Sub(lastPrint[i]) > 2*time.Second && !strings.HasPrefix(last[i], key)) {
				fmt.Fprintf(w.out, "%6s  %s\n", w.elapsed(), line)
				changed = key != last[i]
				last[i], lastPrint[i] = key, now
			}
		}
		if next == len(w.plans) && !changed && settled(st) && w.sys.Outbox.Len() == 0 && w.collectorSeesNoBacklog(ctx) {
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

// collectorSeesNoBacklog: the dock's last state report at the collector
// shows nothing waiting for upload (it reports every few seconds; judging
// from an older one would raise a backlog alert that no longer holds).
func (w *world) collectorSeesNoBacklog(ctx context.Context) bool {
	docks, err := w.col.Store().Docks(ctx)
	if err != nil {
		return false
	}
	for _, d := range docks {
		if d.ID == demoDock {
			return !d.StateAt.IsZero() && d.State.BacklogSegments == 0
		}
	}
	return false
}

// settled: every slot has finished its docking (safe, or a fault that
// needs a person) and nothing waits for upload.
func settled(st localapi.Status) bool {
	if st.Backlog.Segments > 0 || st.OutboxPending > 0 {
		return false
	}
	for _, s := range st.Slots {
		switch s.State {
		case wire.SlotReleased, wire.SlotReady:
		case wire.SlotFault:
			if s.Fault == slot.FaultLink { // a new session is coming
				return false
			}
		default:
			return false
		}
	}
	return true
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
