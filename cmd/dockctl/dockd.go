package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/berthdock/berth/agent/localapi"
)

// defaultSocket is where the systemd unit's RuntimeDirectory puts dockd's socket.
const defaultSocket = "/run/berth/dockd.sock"

// runDockd runs the commands that ask dockd over its local socket.
func runDockd(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dockctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	sock := fs.String("socket", envOr("BERTH_DOCKD_SOCKET", defaultSocket), "dockd's local API socket")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	n := fs.Int("n", 50, "logs: number of recent lines")
	user := fs.String("user", os.Getenv("USER"), "power-cycle, sim: who asks (recorded in the audit log)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := localapi.NewClient(*sock)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	fail := func(err error) int { fmt.Fprintf(stderr, "dockctl %s: %v\n", cmd, err); return 1 }

	var v any
	switch cmd {
	case "status":
		v = new(localapi.Status)
	case "slots":
		v = new([]localapi.Slot)
	case "devices":
		v = new([]localapi.Device)
	case "backlog":
		v = new(localapi.Backlog)
	case "logs":
		v = new([]localapi.LogLine)
	case "power-cycle":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: dockctl power-cycle [--user NAME] SLOT")
			return 2
		}
		slot, err := strconv.Atoi(fs.Arg(0))
		if err != nil {
			return fail(fmt.Errorf("slot %q is not a number", fs.Arg(0)))
		}
		if err := c.PowerCycle(ctx, slot, *user); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "slot %d power-cycled\n", slot)
		return 0
	case "sim":
		if fs.NArg() != 2 || (fs.Arg(0) != "insert" && fs.Arg(0) != "remove") {
			fmt.Fprintln(stderr, "usage: dockctl sim [--user NAME] insert|remove SLOT   (simulated boards only; SLOT as the board names it, e.g. A)")
			return 2
		}
		present := fs.Arg(0) == "insert"
		if err := c.Simulate(ctx, fs.Arg(1), present, *user); err != nil {
			return fail(err)
		}
		if present {
			fmt.Fprintf(stdout, "slot %s: recorder inserted (simulated)\n", fs.Arg(1))
		} else {
			fmt.Fprintf(stdout, "slot %s: recorder removed (simulated)\n", fs.Arg(1))
		}
		return 0
	}
	what := cmd
	if cmd == "logs" {
		what = "logs?n=" + strconv.Itoa(*n)
	}
	if err := c.Get(ctx, what, v); err != nil {
		return fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return fail(err)
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	switch v := v.(type) {
	case *localapi.Status:
		fmt.Fprintf(tw, "dock\t%s\nversion\t%s\nup since\t%s\nmqtt\t%s\noutbox pending\t%d\n",
			v.Dock, v.Version, v.Started.Format(time.RFC3339), connected(v.MQTTConnected), v.OutboxPending)
		printBacklog(tw, v.Backlog)
		tw.Flush()
		fmt.Fprintln(stdout)
		printSlots(stdout, v.Slots)
		return 0
	case *[]localapi.Slot:
		printSlots(stdout, *v)
		return 0
	case *[]localapi.Device:
		fmt.Fprintln(tw, "SERIAL\tOFFICER\tFIRMWARE\tSLOT\tDOCKED\tBATTERY\tHEALTH\tTEMP\tSTORAGE FREE\tERRORS\tCLOCK OFFSET")
		for _, d := range *v {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d%%\t%d%%\t%.1f°C\t%s of %s\t%d\t%dms\n", d.Serial, d.Officer, d.Firmware, d.Slot,
				d.DockedAt.Format("01-02 15:04"), d.BatteryPct, d.BatteryHealth, d.BatteryTempC, mb(d.StorageFree), mb(d.StorageTotal),
				d.StorageErrors, d.ClockOffsetMs)
		}
	case *localapi.Backlog:
		printBacklog(tw, *v)
	case *[]localapi.LogLine:
		for _, l := range *v {
			fmt.Fprintf(tw, "%s\t%s\t%s", l.Time.Format(time.TimeOnly), l.Level, l.Message)
			for k, a := range l.Attrs {
				fmt.Fprintf(tw, " %s=%s", k, a)
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
	return 0
}

func printSlots(w io.Writer, slots []localapi.Slot) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tSTATE\tRECORDER\tOFFICER\tCOPIED\tUPLOADED\tRELEASED\tPROGRESS\tCHARGING\tFAULT")
	for _, s := range slots {
		prog := "-"
		if s.BytesTotal > 0 {
			prog = fmt.Sprintf("%d%% of %s", s.BytesCopied*100/s.BytesTotal, mb(s.BytesTotal))
		}
		fault := s.Fault
		if s.Detail != "" && fault != "" {
			fault += ": " + s.Detail
		}
		name := strconv.Itoa(s.Index)
		if s.Name != "" {
			name = s.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%d\t%d\t%s\t%v\t%s\n", name, s.State, dash(s.Serial), dash(s.Officer),
			s.Copied, s.Segments, s.Uploaded, s.Released, prog, s.Charging, fault)
	}
	tw.Flush()
	for _, s := range slots {
		if s.Offer == nil {
			continue
		}
		name := s.Name
		if name == "" {
			name = strconv.Itoa(s.Index)
		}
		o := s.Offer
		shown := "its LED shows it"
		if o.Restored {
			shown = "kept across a dockd restart; its LED shows it once the recorder is ready again"
		}
		fmt.Fprintf(w, "\nslot %s: offered to officer %s (recorder %s) since %s, expires %s; %s\n", name, o.Officer, o.Serial,
			o.Since.Local().Format(time.TimeOnly), o.Expires.Local().Format(time.TimeOnly), shown)
	}
	for _, s := range slots {
		if s.Next == "" {
			continue
		}
		name := s.Name
		if name == "" {
			name = strconv.Itoa(s.Index)
		}
		fmt.Fprintf(w, "\nslot %s, %s fault: %s\n  next: %s\n", name, s.FaultClass, s.Fault, s.Next)
	}
}

func printBacklog(tw io.Writer, b localapi.Backlog) {
	oldest := "-"
	if !b.Oldest.IsZero() {
		oldest = b.Oldest.Format(time.RFC3339) + " (" + time.Since(b.Oldest).Round(time.Minute).String() + " ago)"
	}
	fmt.Fprintf(tw, "backlog\t%d segments, %s\noldest\t%s\nbuffer\t%s of %s\n", b.Segments, mb(b.Bytes), oldest,
		mb(b.BufferBytes), mb(b.BufferCapacity))
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func connected(ok bool) string {
	if ok {
		return "connected"
	}
	return "disconnected"
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
