// Command recsim serves virtual body-worn recorders that speak DockLink v1,
// with real MP4 footage from a directory (firmware-protocol/recsim/fixtures)
// or seeded synthetic footage, each on its own TCP port or pseudo-terminal.
// It prints every recorder's serial, public key (base64, to enrol at the
// dock) and address, then serves until interrupted.
//
//	recsim --dir firmware-protocol/recsim/fixtures/recorder --count 4 --tcp 127.0.0.1:7000
//	recsim --seed 42 --segments 20 --min-size 8M --pty --fault 2:wrong-hash=3 --fault dying-battery=15m
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the command line.
type config struct {
	fleet  recsim.FleetOpts
	server recsim.ServerOpts
	key    string
	level  slog.Level
}

// faultFlag collects --fault [N:]name[=arg].
type faultFlag struct {
	all []recsim.Fault
	per map[int][]recsim.Fault
}

func (f *faultFlag) String() string { return "" }

func (f *faultFlag) Set(s string) error {
	target := -1
	if i, rest, ok := strings.Cut(s, ":"); ok {
		n, err := strconv.Atoi(i)
		if err != nil || n < 1 {
			return fmt.Errorf("recorder number %q: want 1 or more", i)
		}
		target, s = n-1, rest
	}
	ft, err := recsim.ParseFault(s)
	if err != nil {
		return err
	}
	if target < 0 {
		f.all = append(f.all, ft)
		return nil
	}
	if f.per == nil {
		f.per = map[int][]recsim.Fault{}
	}
	f.per[target] = append(f.per[target], ft)
	return nil
}

// bytesFlag is a byte count with an optional k/M/G (binary) suffix.
type bytesFlag struct{ v *uint64 }

func (b bytesFlag) String() string {
	if b.v == nil {
		return "0"
	}
	return strconv.FormatUint(*b.v, 10)
}

func (b bytesFlag) Set(s string) error {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > (1<<63)/mult {
		return fmt.Errorf("%q is not a byte count (e.g. 8M)", s)
	}
	*b.v = n * mult
	return nil
}

func parse(args []string, stderr io.Writer) (*config, error) {
	var c config
	fs := flag.NewFlagSet("recsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f, g := &c.fleet, &recsim.GenOpts{}
	var faults faultFlag
	var seed int64 = -1
	var minSize, maxSize, total, free uint64
	var tempC float64
	var charge, level string
	var pct, health, sHealth uint
	fs.StringVar(&f.Dir, "dir", "", "recorder directory (footage + manifest.json) every recorder is loaded from")
	fs.Int64Var(&seed, "seed", -1, "generate footage from this seed instead (recorder i gets seed+i)")
	fs.IntVar(&f.Count, "count", 1, "number of recorders")
	fs.StringVar(&f.Config.Serial, "serial", "", "serial (--dir: base serial, -01.. added when --count > 1); seeded: prefix")
	fs.IntVar(&g.Segments, "segments", 6, "seeded: segments per recorder")
	fs.Var(bytesFlag{&minSize}, "min-size", "seeded: smallest segment (e.g. 4M; default 256k)")
	fs.Var(bytesFlag{&maxSize}, "max-size", "seeded: largest segment (default: min-size, or 1M)")
	fs.StringVar(&c.server.TCP, "tcp", "", "listen address of the first recorder (port 0: each its own; port P: P, P+1, ...); default 127.0.0.1:0 without --pty")
	fs.BoolVar(&c.server.PTY, "pty", false, "serve each recorder on a pseudo-terminal (open the printed path with a serial library)")
	fs.StringVar(&c.server.PTYDir, "pty-dir", "", "directory of the pty symlinks (default: a temporary one)")
	fs.Int64Var(&f.Config.Rate, "rate", 0, "link speed cap in bytes/s (0: 35000000, USB 2.0 CDC; -1: none)")
	fs.Var(&faults, "fault", "inject a fault, [N:]name[=arg], repeatable: disconnect=BYTES, corrupt-frame=N, wrong-hash=SEQ, missing-seq=SEQ, dying-battery[=DUR], auth (N: only recorder N)")
	fs.StringVar(&f.Config.StateDir, "state-dir", "", "keep released segments and events here across restarts (default: in memory)")
	fs.StringVar(&c.key, "key", "", "device key file (PKCS #8 PEM or 32-byte seed); only with --count 1 (default: derived from the serial)")
	b := &f.Config.Battery
	fs.Func("battery-mv", "battery voltage, mV", func(s string) error { v, err := strconv.ParseUint(s, 10, 16); b.MilliVolts = uint16(v); return err })
	fs.UintVar(&pct, "battery-pct", 0, "state of charge, %")
	fs.UintVar(&health, "battery-health", 0, "battery state of health, %")
	fs.Func("battery-cycles", "charge cycles", func(s string) error { v, err := strconv.ParseUint(s, 10, 32); b.Cycles = uint32(v); return err })
	fs.Float64Var(&tempC, "battery-temp", 0, "battery temperature, °C")
	fs.StringVar(&charge, "charge", "", "charger state: discharging, charging, full, fault")
	st := &f.Config.Storage
	fs.Var(bytesFlag{&total}, "storage-total", "storage capacity (e.g. 64G; default 64 GiB, free = total - footage)")
	fs.Var(bytesFlag{&free}, "storage-free", "free storage (with --storage-total)")
	fs.UintVar(&sHealth, "storage-health", 98, "storage health, % (with --storage-total)")
	fs.Func("storage-read-errors", "uncorrectable read errors", func(s string) error { v, err := strconv.ParseUint(s, 10, 32); st.ReadErrors = uint32(v); return err })
	fs.Func("storage-write-errors", "failed writes", func(s string) error { v, err := strconv.ParseUint(s, 10, 32); st.WriteErrors = uint32(v); return err })
	fs.Func("bad-blocks", "retired blocks", func(s string) error { v, err := strconv.ParseUint(s, 10, 32); st.BadBlocks = uint32(v); return err })
	fs.DurationVar(&f.Config.ClockOffset, "clock-offset", 0, "device clock offset from true time at start (e.g. -2m30s)")
	fs.Float64Var(&f.Config.DriftPPM, "drift-ppm", 0, "device clock drift, parts per million (positive: fast)")
	fs.StringVar(&level, "log", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (f.Dir == "") == (seed < 0) {
		return nil, errors.New("give exactly one of --dir and --seed")
	}
	if seed >= 0 {
		f.Seed = uint64(seed)
		g.MinSize, g.MaxSize = int64(minSize), int64(maxSize)
		f.Gen = g
		if f.Config.Serial != "" {
			f.SerialPrefix, f.Config.Serial = f.Config.Serial, ""
		}
	}
	if *b != (docklink.Battery{}) || pct != 0 || health != 0 || tempC != 0 || charge != "" {
		def := recsim.DefaultBattery
		if b.MilliVolts == 0 {
			b.MilliVolts = def.MilliVolts
		}
		b.Percent, b.HealthPercent = pctOr(pct, def.Percent), pctOr(health, def.HealthPercent)
		b.TempDeciC = def.TempDeciC
		if tempC != 0 {
			b.TempDeciC = int16(tempC * 10)
		}
		b.Charge = def.Charge
		if charge != "" {
			cs, ok := chargeState(charge)
			if !ok {
				return nil, fmt.Errorf("--charge %q: want discharging, charging, full or fault", charge)
			}
			b.Charge = cs
		}
	}
	if total > 0 {
		st.TotalBytes, st.FreeBytes, st.HealthPercent = total, free, uint8(min(sHealth, 255))
	}
	if err := c.level.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log: %w", err)
	}
	f.Config.Faults, f.Faults = faults.all, faults.per
	return &c, nil
}

func pctOr(v uint, def uint8) uint8 {
	if v == 0 {
		return def
	}
	return uint8(min(v, 255))
}

func chargeState(s string) (docklink.ChargeState, bool) {
	for c := docklink.ChargeState(0); c.Valid(); c++ {
		if c.String() == s {
			return c, true
		}
	}
	return 0, false
}

// run parses args, starts the recorders, prints them and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parse(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "recsim: %v\n", err)
		}
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.level}))
	c.fleet.Config.Logger, c.server.Logger = log, log
	if c.key != "" {
		if c.fleet.Count != 1 {
			fmt.Fprintln(stderr, "recsim: --key needs --count 1 (every recorder needs its own key)")
			return 2
		}
		k, err := recsim.LoadKey(c.key)
		if err != nil {
			fmt.Fprintf(stderr, "recsim: %v\n", err)
			return 1
		}
		c.fleet.Config.Key = k
	}
	recs, err := recsim.NewFleet(c.fleet)
	if err != nil {
		fmt.Fprintf(stderr, "recsim: %v\n", err)
		return 1
	}
	if c.fleet.Config.Key != nil {
		// NewFleet derives keys per serial; a key file names one recorder.
		recs[0], err = reload(c, recs[0].Serial())
		if err != nil {
			fmt.Fprintf(stderr, "recsim: %v\n", err)
			return 1
		}
	}
	srv, err := recsim.NewServer(recs, &c.server)
	if err != nil {
		fmt.Fprintf(stderr, "recsim: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tPUBLIC KEY (base64)\tTCP\tPTY")
	for _, ep := range srv.Endpoints() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ep.Serial, base64.StdEncoding.EncodeToString(ep.PublicKey), dash(ep.Addr), dash(ep.PTYPath))
	}
	tw.Flush()
	log.Info("recsim: serving", "recorders", len(recs), "rate", c.fleet.Config.Rate, "faults", len(c.fleet.Config.Faults)+len(c.fleet.Faults))
	start := time.Now()
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "recsim: %v\n", err)
		return 1
	}
	log.Info("recsim: stopped", "after", time.Since(start).Round(time.Second))
	return 0
}

// reload builds the single recorder again with the key from the file.
func reload(c *config, serial string) (*recsim.Recorder, error) {
	cfg := c.fleet.Config
	cfg.Serial = serial
	if c.fleet.Dir != "" {
		return recsim.Load(c.fleet.Dir, &cfg)
	}
	return recsim.Generate(c.fleet.Seed, c.fleet.Gen, &cfg)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
