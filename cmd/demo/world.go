package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/drivers/board"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

const (
	demoDock = "dock-demo-01"
	demoUnit = "unit-3"
)

// world is the demo's narration around the test world (collector,
// recorders, dock).
type world struct {
	*testworld.World
	o     options
	out   io.Writer
	logF  *os.File
	plans []officerPlan
	// people are the console's demo sign-ins (openConsole).
	people []signin
	start  time.Time
}

func newWorld(ctx context.Context, o options, out io.Writer) (_ *world, err error) {
	w := &world{o: o, out: out, start: time.Now()}
	if w.logF, err = os.Create(filepath.Join(o.dir, "demo.log")); err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(w.logF, &slog.HandlerOptions{Level: slog.LevelInfo}))
	defer func() {
		if err != nil {
			w.logF.Close()
		}
	}()
	now := time.Now()
	w.plans = demoPlans(now)
	var recs []*recsim.Recorder
	unknown := map[string]bool{}
	for _, p := range w.plans {
		p.Config.Rate = o.rate
		p.Config.Logger = log.With("side", "recorder", "serial", p.Serial)
		p.Config.StateDir = filepath.Join(o.dir, "recorders", "state")
		r, _, err := p.Build(filepath.Join(o.dir, "recorders"), now)
		if err != nil {
			return nil, fmt.Errorf("recorder %s: %w", p.Serial, err)
		}
		recs = append(recs, r)
		if !p.enrolled {
			unknown[p.Serial] = true
		}
	}
	w.World, err = testworld.Start(ctx, testworld.Config{Dir: o.dir, Log: log, DockID: demoDock, Unit: demoUnit, Version: "demo",
		Recorders: recs, Unknown: unknown,
		Board: &board.Opts{Logger: log.With("side", "board"), Link: board.DefaultOpts.Link},
		Collector: func(cc *collector.Config) {
			cc.MQTT.ClientID = "collector-demo"
			// The summary runs the analysis once the world has settled. A
			// timed pass during the docking would judge the dock's backlog
			// of 30-hour-old footage (BWC-0104) in the seconds before its
			// upload and raise a backlog-old alert at random.
			cc.Analysis.Every = time.Hour
			cc.Analysis.MinFirmware = "2.4.0"
		},
		Dock: func(dc *dock.Config) {
			dc.BufferCapacity = 4 << 30
			dc.MQTT.AckTimeout = 5 * time.Second
		}})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// close stops every part, in order, and joins them.
func (w *world) close() error {
	var errs []error
	if w.World != nil {
		errs = append(errs, w.World.Close())
	}
	return errors.Join(append(errs, w.logF.Close())...)
}
