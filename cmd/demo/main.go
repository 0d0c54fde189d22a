// Command demo runs berth end to end on one machine with embedded defaults:
// a collector (embedded MQTT broker, SQLite store, directory evidence
// store), a dock on a simulated five-slot board, and five virtual
// recorders (recsim) holding real MP4 footage from a shift, some with
// faults. Officers drop their recorders in; the demo shows each slot's
// progress as it happens and ends with a summary of what was copied,
// verified, uploaded and released, the faults found and the alerts raised.
//
//	go run ./cmd/demo            # in a temporary directory, removed at the end
//	go run ./cmd/demo --keep     # keep it (store, evidence, dock buffer, logs) and
//	                             # keep the console serving until interrupted
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options of one demo run.
type options struct {
	dir     string
	keep    bool
	timeout time.Duration
	rate    int64
	// browse, set by tests, drives the console after the shift, before
	// the world closes.
	browse func(context.Context, *world) error
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	_, code := runShift(ctx, args, stdout, stderr, nil)
	return code
}

// runShift is run, returning also what the shift achieved (for the test);
// browse, if not nil, drives the console before the world closes.
func runShift(ctx context.Context, args []string, stdout, stderr io.Writer, browse func(context.Context, *world) error) (result, int) {
	o := options{browse: browse}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dir, "dir", "", "working directory (default: a new temporary one)")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (store, evidence, buffer, logs) at the end")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "give up if the shift-end docking has not settled by then")
	fs.Int64Var(&o.rate, "rate", 35_000_000, "recorder link speed cap in bytes/s (USB 2.0 CDC reality)")
	if err := fs.Parse(args); err != nil {
		return result{}, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "demo: unexpected argument %q\n", fs.Arg(0))
		return result{}, 2
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "berth-demo-")
		if err != nil {
			fmt.Fprintf(stderr, "demo: %v\n", err)
			return result{}, 1
		}
		o.dir = d
		if !o.keep {
			defer os.RemoveAll(d)
		}
	} else if err := os.MkdirAll(o.dir, 0o750); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return result{}, 1
	}
	w, err := newWorld(ctx, o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return result{}, 1
	}
	res, err := w.shift(ctx)
	if err == nil {
		err = w.openConsole(ctx)
	}
	if err == nil && o.browse != nil {
		err = o.browse(ctx, w)
	}
	if err == nil && o.keep {
		fmt.Fprintf(stdout, "\nEverything is in %s. The console keeps serving at %s until interrupted (Ctrl-C).\n", o.dir, w.consoleURL())
		<-ctx.Done()
	}
	if cerr := w.close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		if o.keep {
			fmt.Fprintf(stderr, "demo: everything is in %s (logs in demo.log)\n", o.dir)
		}
		return res, 1
	}
	if o.keep {
		fmt.Fprintf(stdout, "\nEverything is in %s (logs: demo.log, store: collector/collector.db, evidence: collector/evidence).\n", o.dir)
	}
	if !res.ok() {
		return res, 1
	}
	return res, 0
}
