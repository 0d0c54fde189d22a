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
// end to end, and prints the shift's summary.
func (w *world) summary(ctx context.Context, settled bool) (result, error) {
	res := result{settled: settled}
	// One analysis pass now, so the summary does not wait for the timer.
	if _, err := w.col.Engine().Pass(ctx); err != nil {
		fmt.Fprintf(w.out, "analysis: %v\n", err)
	}
	st := w.sys.Dock.Status()
	res.slots = st.Slots
	cs := w.col.Store()
	ev := w.col.Evidence()

	fmt.Fprintf(w.out, "\n== Summary after %s\n\n", time.Since(w.start).Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(w.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tRECORDER\tOFFICER\tON RECORDER\tCOPIED+VERIFIED\tUPLOADED (receipt)\tRELEASED\tIN EVIDENCE STORE\tSLOT SHOWS")
	var violations []string
	totals := [5]int{}
	for i, p := range w.plans {
		s := st.Slots[i]
		rec := w.recs.Recorders()[i]
		segs, err := cs.Segments(ctx, p.serial, time.Time{}, time.Time{})
		if err != nil {
			return res, err
		}
		stored := 0
		receipted := map[uint64]bool{}
		for _, g := range segs {
			if g.Receipt == nil {
				continue
			}
			obj, err := ev.Verify(ctx, g.Receipt.ObjectID)
			switch {
			case err != nil:
				violations = append(violations, fmt.Sprintf("%s seq %d: receipted but the evidence store cannot prove it: %v", p.serial, g.Seq, err))
			case obj.SHA256 != g.SHA256 || obj.Size != g.Size:
				violations = append(violations, fmt.Sprintf("%s seq %d: stored object %s/%d differs from the recorder's %s/%d", p.serial, g.Seq, obj.SHA256, obj.Size, g.SHA256, g.Size))
			default:
				stored++
				receipted[g.Seq] = true
			}
		}
		released := rec.Released()
		for _, seq := range released {
			if !receipted[seq] {
				violations = append(violations, fmt.Sprintf("%s seq %d: released on the recorder without a verified receipt", p.serial, seq))
			}
		}
		shows := s.State
		if s.Fault != "" {
			shows += " (" + s.Fault + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", i+1, p.serial, p.officer, s.Segments, s.Copied, s.Uploaded, len(released), stored, shows)
		for k, v := range []int{s.Segments, s.Copied, s.Uploaded, len(released), stored} {
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
	if len(violations) > 0 {
		fmt.Fprintln(w.out, "EVIDENCE RULES BROKEN:")
		for _, v := range violations {
			fmt.Fprintln(w.out, "  "+v)
		}
		res.settled = false
		return res, nil
	}
	fmt.Fprintf(w.out, "Every released segment has a verified receipt and a byte-exact object in the evidence store; footage not receipted stays on its recorder.\n")
	if w.o.keep {
		fmt.Fprintf(w.out, "Supervisors: `go run ./cmd/collector alerts --db %s` lists these; `... alerts ack ID --by NAME --comment TEXT` records the written explanation.\n",
			w.colDSN())
	} else {
		fmt.Fprintln(w.out, "Run with --keep to look at the store, the evidence and the alerts afterwards (`go run ./cmd/collector alerts --db DIR/collector/collector.db`).")
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
