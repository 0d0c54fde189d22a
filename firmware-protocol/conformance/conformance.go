// Package conformance checks that a device speaks DockLink v1 as
// firmware-protocol/PROTOCOL.md specifies. Run dials the device once per
// check (a TCP connection to recsim, a serial port to a real recorder, a
// net.Pipe in tests), drives it as a correct dock would and as a faulty
// line would, and reports one Result per rule, named by the section it
// verifies, so a vendor can prove a firmware build (`dockctl conformance`).
//
// Checks are read-only by default. The only footage-changing check —
// releasing a segment with its correct hash — the clock-changing one and
// the firmware install run only when Opts asks for them.
package conformance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Dialer opens a new link to the device under test.
type Dialer func(ctx context.Context) (io.ReadWriteCloser, error)

// Opts tunes Run. A nil *Opts is the zero value.
type Opts struct {
	// Keys are the enrolled device keys. If nil, the signature is checked
	// against the public key the device announces in HELLO_ACK (the
	// protocol is checked, the enrolment is not; the result says so).
	Keys docklink.KeyStore
	// Release opts in to RELEASE with the correct hash of the first
	// segment (it frees footage on the device!). By default only refusals
	// (wrong hash, unknown seq) are checked.
	Release bool
	// SetClock opts in to setting the device clock to Now.
	SetClock bool
	// Firmware is a signed test image the device accepts (§17); without
	// it only the refusals and FW_STATUS are checked.
	Firmware *Image
	// FirmwareInstall opts in to installing Firmware: the device reboots
	// and runs the test image (or reports a rollback).
	FirmwareInstall bool
	// CheckTimeout bounds each check (default 30 s); checks that read
	// footage get one more second per 5 MiB the device holds.
	CheckTimeout time.Duration
	// Client tunes the client used by the checks (timeouts, window).
	Client *docklink.ClientOpts
	// Now is the dock clock (default time.Now).
	Now func() time.Time
	// Logger receives progress (default: discard).
	Logger *slog.Logger
}

// Result is the outcome of one check.
type Result struct {
	Rule   string // PROTOCOL.md section, e.g. "§3.4"
	Name   string // what is checked, e.g. "CRC-32C checked on every frame"
	Pass   bool
	Skip   bool   // not applicable or not opted in; neither pass nor failure
	Detail string // why it failed, or what was measured
}

// Report is the outcome of a conformance run.
type Report struct {
	Device   docklink.DeviceInfo // as announced in HELLO_ACK (zero if HELLO failed)
	Started  time.Time
	Duration time.Duration
	Results  []Result
}

// Passed reports whether at least one check ran and none failed.
func (r *Report) Passed() bool {
	ran := false
	for _, res := range r.Results {
		if res.Skip {
			continue
		}
		if !res.Pass {
			return false
		}
		ran = true
	}
	return ran
}

// Failed returns the failed results.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if !res.Pass && !res.Skip {
			out = append(out, res)
		}
	}
	return out
}

// WriteTable prints the results as an aligned pass/fail table with a
// summary line.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "DockLink v1 conformance: device %q model %q firmware %q\n", r.Device.Serial, r.Device.Model, r.Device.Firmware)
	fmt.Fprintln(tw, "RULE\tCHECK\tRESULT\tDETAIL")
	var pass, fail, skip int
	for _, res := range r.Results {
		verdict := "PASS"
		switch {
		case res.Skip:
			verdict = "SKIP"
			skip++
		case !res.Pass:
			verdict = "FAIL"
			fail++
		default:
			pass++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Rule, res.Name, verdict, res.Detail)
	}
	overall := "CONFORMS"
	if !r.Passed() {
		overall = "DOES NOT CONFORM"
	}
	fmt.Fprintf(tw, "\n%d passed, %d failed, %d skipped in %s: %s\n", pass, fail, skip, r.Duration.Round(time.Millisecond), overall)
	return tw.Flush()
}

// Run runs every check against the device reached by dial and returns the
// report. It never returns nil; a device that cannot be dialled fails every
// check with the dial error.
func Run(ctx context.Context, dial Dialer, opts *Opts) *Report {
	e := newEnv(dial, opts)
	rep := &Report{Started: e.now()}
	for _, c := range checks {
		if ctx.Err() != nil {
			rep.Results = append(rep.Results, Result{Rule: c.rule, Name: c.name, Detail: "not run: " + ctx.Err().Error()})
			continue
		}
		res := e.run(ctx, c)
		e.log.Info("conformance check", "rule", res.Rule, "name", res.Name, "pass", res.Pass, "skip", res.Skip, "detail", res.Detail)
		rep.Results = append(rep.Results, res)
	}
	rep.Device = e.info
	rep.Duration = e.now().Sub(rep.Started)
	return rep
}
