// Command dockctl is the custodian's and installer's tool on the dock: it talks
// to dockd's local API, tests a board's hardware, and proves a recorder's
// firmware against the DockLink conformance suite.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: dockctl <command> [flags]

commands:
  status        the dock at a glance: connection, outbox, backlog, slots
  slots         every slot's state and progress
  devices       health of the recorders docked here (battery, storage, clock)
  backlog       footage buffered and not yet receipted by the collector
  power-cycle   cut and restore a slot's power (a hung recorder): power-cycle SLOT
  logs          recent dockd log lines (-n N)
  sim           on a simulated board, dock or take a recorder: sim insert|remove SLOT
  (all of these take --socket PATH and --json)
  conformance   run the DockLink conformance suite against a device (--port PATH | --addr HOST:PORT)
  selftest      exercise every slot of a board file (--board FILE)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "conformance":
		return runConformance(ctx, args[1:], stdout, stderr)
	case "status", "slots", "devices", "backlog", "power-cycle", "logs", "sim":
		return runDockd(ctx, args[0], args[1:], stdout, stderr)
	case "selftest":
		return runSelftest(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "dockctl: unknown command %q\n%s", args[0], usage)
		return 2
	}
}
