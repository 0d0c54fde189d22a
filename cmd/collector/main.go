// Command collector is berth's cloud collector: MQTT ingest, the evidence
// upload endpoint, analysis and alerts, and the tools around them.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: collector <command> [flags]

commands:
  serve          run the collector (default when no command is given)
  reason-check   check WAV or MP4 files for a spoken reason in the opening window
  alerts         list, acknowledge (with the written explanation) and close alerts
  enroll         enrol units, docks and recorders (the registry of who may report and upload)
  report         a unit's weekly compliance statistics per officer (--unit U --week 2026-W48 [--csv])
  evidence       custody: read the footage access log, set and lift legal holds
  holes          holes release: a supervisor lets a recorder with a sequence hole release its receipted segments
  user           add people (roles, units, passwords) and issue their API tokens
  firmware       firmware campaigns: create (pilot first), advance, status, the docks' configuration
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, stdout, stderr)
	case "reason-check":
		return runReasonCheck(ctx, args, stdout, stderr)
	case "alerts":
		return runAlerts(ctx, args, stdout, stderr)
	case "user":
		return runUser(ctx, args, os.Stdin, stdout, stderr)
	case "enroll":
		return runEnroll(ctx, args, stdout, stderr)
	case "report":
		return runReport(ctx, args, stdout, stderr)
	case "holes":
		return runHoles(ctx, args, stdout, stderr)
	case "evidence":
		return runEvidence(ctx, args, stdout, stderr)
	case "firmware":
		return runFirmware(ctx, args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "collector: unknown command %q\n%s", cmd, usage)
		return 2
	}
}

// defaultDSN is the embedded default store: one SQLite file in the working
// directory.
const defaultDSN = "collector.db"

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
