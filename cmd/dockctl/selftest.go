package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/berthdock/berth/drivers/board"
	"github.com/berthdock/berth/drivers/led"
	"github.com/berthdock/berth/drivers/seriallink"
)

// selftestConfig is what `dockctl selftest` is told on its command line.
type selftestConfig struct {
	boardFile string
	dwell     time.Duration // how long each LED colour stays on
	powerOn   time.Duration // how long a slot stays powered before reading its current
	linkWait  time.Duration // how long to wait for a slot's link to open
}

// offLeak is the most current a slot may draw with its charge line off.
const offLeak = 20 * physic.MilliAmpere

// selftestColors is the LED cycle an installer watches for on every slot.
var selftestColors = []led.Color{led.Red, led.Green, led.Blue, led.White}

// slotReport is one row of the self-test table.
type slotReport struct {
	name, leds, power, present, current, link string
	problems                                  []string
}

// runSelftest opens a board file, exercises every slot (LED colours, power
// on/off, presence, current, serial link) and prints a table. It returns 0
// when every slot passed, 1 when the board or a slot failed, 2 on usage.
func runSelftest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := selftestConfig{}
	fs := flag.NewFlagSet("dockctl selftest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.boardFile, "board", "", "board file (YAML) to test, e.g. /etc/berth/board.yaml")
	fs.DurationVar(&cfg.dwell, "dwell", 300*time.Millisecond, "how long each LED colour is shown")
	fs.DurationVar(&cfg.powerOn, "power-on", 500*time.Millisecond, "how long each slot is powered before its current is read")
	fs.DurationVar(&cfg.linkWait, "link-timeout", 3*time.Second, "how long to wait for a slot's serial link to open")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.boardFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: dockctl selftest --board FILE [--dwell 300ms] [--power-on 500ms] [--link-timeout 3s]")
		return 2
	}

	spec, err := board.Load(cfg.boardFile)
	if err != nil {
		fmt.Fprintf(stderr, "dockctl selftest: %v\n", err)
		return 1
	}
	b, err := board.Open(spec, nil)
	if err != nil {
		fmt.Fprintf(stderr, "dockctl selftest: %v\n", err)
		return 1
	}
	defer func() {
		if err := b.Halt(); err != nil {
			fmt.Fprintf(stderr, "dockctl selftest: halting the board: %v\n", err)
		}
	}()

	fmt.Fprintf(stdout, "self-test of %s (%s, %d slots) from %s\n", spec.Name, spec.Kind, len(spec.Slots), spec.File)
	reports := make([]slotReport, 0, len(b.Slots()))
	for _, s := range b.Slots() {
		if err := ctx.Err(); err != nil {
			fmt.Fprintln(stderr, "dockctl selftest: interrupted")
			return 1
		}
		reports = append(reports, testSlot(ctx, cfg, b, s))
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tLED\tPOWER\tPRESENT\tCURRENT\tLINK\tRESULT")
	failed := 0
	for _, r := range reports {
		result := "ok"
		if len(r.problems) > 0 {
			result = "FAIL"
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.leds, r.power, r.present, r.current, r.link, result)
	}
	_ = tw.Flush()
	for _, r := range reports {
		for _, p := range r.problems {
			fmt.Fprintf(stdout, "slot %s: %s\n", r.name, p)
		}
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "dockctl selftest: %d of %d slots failed\n", failed, len(reports))
		return 1
	}
	fmt.Fprintf(stdout, "all %d slots passed\n", len(reports))
	return 0
}

// wait sleeps d unless ctx ends first.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func testSlot(ctx context.Context, cfg selftestConfig, b *board.Board, s *board.Slot) slotReport {
	r := slotReport{name: s.Name, leds: "-", power: "-", present: "-", current: "-", link: "-"}
	fail := func(format string, args ...any) { r.problems = append(r.problems, fmt.Sprintf(format, args...)) }
	sim := b.Sim()

	// Presence: the first event is the state found at start. On the
	// simulated board, dock a recorder and expect the insertion event.
	present, err := presenceState(ctx, s)
	if err != nil {
		fail("presence: %v", err)
	}
	if sim != nil && err == nil {
		if err := sim.Insert(s.Index); err != nil {
			fail("presence: simulating a docking: %v", err)
		} else if present, err = awaitPresence(ctx, s, true); err != nil {
			fail("presence: %v", err)
		}
	}
	r.present = map[bool]string{true: "yes", false: "no"}[present]

	// LED: show every colour for the installer to see.
	var shown []string
	for _, c := range selftestColors {
		if err := s.SetPattern(led.Solid(c)); err != nil {
			fail("led: showing %s: %v", c, err)
			break
		}
		shown = append(shown, c.String())
		if err := wait(ctx, cfg.dwell); err != nil {
			fail("interrupted")
			return r
		}
	}
	if err := s.SetPattern(led.Off()); err != nil {
		fail("led: turning off: %v", err)
	}
	if len(shown) > 0 {
		r.leds = strings.Join(shown, ",")
	}

	// Power: on, read the current while on, off, and check it stopped.
	if err := s.Power.Set(true); err != nil {
		fail("power on: %v", err)
		r.power = "error"
	} else {
		if err := wait(ctx, cfg.powerOn); err != nil {
			fail("interrupted")
		}
		r.current = senseSlot(s, sim != nil && present, fail)
		if err := s.Power.Set(false); err != nil {
			fail("power off: %v", err)
			r.power = "error"
		} else {
			r.power = "on/off"
			if err := wait(ctx, cfg.powerOn); err != nil {
				fail("interrupted")
			}
			if s.HasSensor() {
				if rd, err := s.Sense(); err == nil && (rd.Current > offLeak || rd.Current < -offLeak) {
					fail("power off: %s still flows with the charge line off: check the charge switch", rd.Current)
				}
			}
		}
	}

	// Link: a docked recorder's port must open; an empty slot's must not.
	// A legacy slot's is its volume's block device (never mounted here).
	if st, ok := s.Storage(); ok {
		r.link = storageSlot(st, present, fail)
	} else {
		r.link = linkSlot(ctx, cfg, s, present, fail)
	}
	return r
}

// storageSlot checks a legacy mass-storage slot: a docked recorder's
// volume must appear as a block device at the board file's path (a
// /dev/disk/by-path link); an empty slot's must not. It never mounts.
func storageSlot(st board.StorageSpec, present bool, fail func(string, ...any)) string {
	fi, err := os.Stat(st.Path)
	switch {
	case err != nil && present:
		fail("storage %s: recorder present but its volume does not appear: %v", st.Path, err)
		return "unreachable"
	case err != nil:
		return "none (slot empty)"
	case fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0:
		fail("storage %s: not a block device (%s)", st.Path, fi.Mode())
		return "error"
	}
	seen := st.Path
	if t, err := filepath.EvalSymlinks(st.Path); err == nil && t != st.Path {
		seen += " -> " + t
	}
	if !present {
		fail("storage %s appears but the presence input reads empty: check the presence switch", seen)
	}
	return seen
}

// presenceState waits for the presence watcher's first (initial) event.
func presenceState(ctx context.Context, s *board.Slot) (bool, error) {
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case ev, ok := <-s.Presence.Events():
		if !ok {
			return false, errors.New("presence watcher stopped")
		}
		return ev.Present, nil
	case <-t.C:
		return false, errors.New("no initial state from the presence input within 2s")
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// awaitPresence waits for a debounced event reporting want.
func awaitPresence(ctx context.Context, s *board.Slot, want bool) (bool, error) {
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-s.Presence.Events():
			if !ok {
				return s.Presence.Present(), errors.New("presence watcher stopped")
			}
			if ev.Present == want {
				return want, nil
			}
		case <-t.C:
			return s.Presence.Present(), fmt.Errorf("no %v presence event within 2s", map[bool]string{true: "insertion", false: "removal"}[want])
		case <-ctx.Done():
			return s.Presence.Present(), ctx.Err()
		}
	}
}

// senseSlot reads the slot's current sensor; on the simulated board with a
// docked recorder it also checks the reading matches the simulated load.
func senseSlot(s *board.Slot, checkSim bool, fail func(string, ...any)) string {
	if !s.HasSensor() {
		return "no sensor"
	}
	rd, err := s.Sense()
	if err != nil {
		fail("current sensor: %v", err)
		return "unreachable"
	}
	if rd.OverCurrent {
		fail("current sensor: over-current while powered: %s", rd)
	}
	if checkSim {
		want := board.SimLoadCurrent
		if d := rd.Current - want; d > 5*physic.MilliAmpere || d < -5*physic.MilliAmpere {
			fail("current sensor: read %s, the simulated recorder draws %s", rd.Current, want)
		}
	}
	return rd.String()
}

// linkSlot opens and closes the slot's link and describes what it saw.
func linkSlot(ctx context.Context, cfg selftestConfig, s *board.Slot, present bool, fail func(string, ...any)) string {
	lctx, cancel := context.WithTimeout(ctx, cfg.linkWait)
	defer cancel()
	c, err := s.OpenLink(lctx)
	if err != nil {
		if present {
			fail("link %s: recorder present but its link does not open: %v", s.LinkName(), err)
			return "unreachable"
		}
		if errors.Is(err, seriallink.ErrUnplugged) {
			return "none (slot empty)"
		}
		fail("link %s: %v", s.LinkName(), err)
		return "error"
	}
	seen := s.LinkName()
	if d, ok := c.(*seriallink.Dev); ok && d.Target() != "" && d.Target() != d.Path() {
		seen = d.Path() + " -> " + d.Target()
	}
	if err := c.Close(); err != nil {
		fail("link %s: closing: %v", seen, err)
	}
	if !present {
		fail("link %s answers but the presence input reads empty: check the presence switch", seen)
	}
	return seen
}
