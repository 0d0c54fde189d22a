package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthdock/berth/cloud/store"
)

// summary analyses what the collector received, checks the evidence rules
// end to end against the recorders' own bytes (testworld.Check), and
// prints the shift's summary.
func (w *world) summary(ctx context.Context, settled bool) (result, error) {
	res := result{settled: settled}
	// One analysis pass now, so the summary does not wait for the timer.
	if _, err := w.Col.Engine().Pass(ctx); err != nil {
		fmt.Fprintf(w.out, "analysis: %v\n", err)
	}
	st := w.Sys.Dock.Status()
	res.slots = st.Slots
	cs := w.Col.Store()
	var err error
	if res.tally, err = w.Check(ctx); err != nil {
		return res, err
	}

	fmt.Fprintf(w.out, "\n== Summary after %s\n\n", time.Since(w.start).Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(w.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tRECORDER\tOFFICER\tON RECORDER\tCOPIED+VERIFIED\tUPLOADED (receipt)\tRELEASED\tRECEIPTED AT THE COLLECTOR\tSLOT SHOWS")
	totals := [5]int{}
	for i, p := range w.plans {
		s := st.Slots[i]
		rec := w.Recs.Recorders()[i]
		segs, err := cs.Segments(ctx, p.Serial, time.Time{}, time.Time{})
		if err != nil {
			return res, err
		}
		receipted := 0
		for _, g := range segs {
			if g.Receipt != nil {
				receipted++
			}
		}
		released := len(rec.ReleaseLog())
		shows := s.State
		if s.Fault != "" {
			shows += " (" + s.Fault + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", i+1, p.Serial, p.Officer, s.Segments, s.Copied, s.Uploaded, released, receipted, shows)
		for k, v := range []int{s.Segments, s.Copied, s.Uploaded, released, receipted} {
			totals[k] += v
		}
	}
	fmt.Fprintf(tw, "\tall\t\t%d\t%d\t%d\t%d\t%d\t\n", totals[0], totals[1], totals[2], totals[3], totals[4])
	tw.Flush()

	all, err := cs.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		return res, err
	}
	slices.SortFunc(all, func(a, b store.Alert) int { return strings.Compare(a.Serial+a.Kind, b.Serial+b.Kind) })
	res.alerts = all
	fmt.Fprintf(w.out, "\n== Findings and alerts (%d)\n\n", len(all))
	tw = tabwriter.NewWriter(w.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tSEVERITY\tKIND\tRECORDER\tOFFICER\tWHAT")
	for _, a := range all {
		rec := a.Serial
		if a.Seq > 0 {
			rec = fmt.Sprintf("%s #%d", a.Serial, a.Seq)
		}
		if rec == "" {
			rec = a.Dock
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.State, a.Severity, a.Kind, rec, dash(a.Officer), oneLine(a.Detail, 110))
	}
	tw.Flush()

	fmt.Fprintln(w.out)
	t := res.tally
	if !t.Zero() {
		fmt.Fprintf(w.out, "EVIDENCE RULES BROKEN (%s):\n", t)
		for _, v := range t.Problems {
			fmt.Fprintln(w.out, "  "+v)
		}
		return res, nil
	}
	// Check read every receipted object back and hashed its bytes against
	// the hash of the recorder's bytes taken before docking.
	fmt.Fprintf(w.out, "Every released segment (%d) has a receipt that verifies against the collector's key and was released after it;\n", t.Released)
	fmt.Fprintf(w.out, "each of the %d objects in the evidence store was read back and is byte-exact to the recorder's original (SHA-256 of both);\n", t.Objects)
	fmt.Fprintf(w.out, "footage not receipted stays on its recorder.\n")
	if w.o.keep {
		fmt.Fprintf(w.out, "Supervisors acknowledge these in the console (below) with the written explanation; `go run ./cmd/collector alerts --db %s` lists them.\n",
			w.colDSN())
	} else {
		fmt.Fprintln(w.out, "Run with --keep to keep the console serving, and to look at the store, the evidence and the alerts afterwards.")
	}
	return res, nil
}

func (w *world) colDSN() string { return w.o.dir + "/collector/collector.db" }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
