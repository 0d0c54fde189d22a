package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/drivers/board"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

const (
	demoDock = "dock-demo-01"
	demoUnit = "unit-3"
)

// world is everything the demo runs: collector, recorders, dock.
type world struct {
	o      options
	out    io.Writer
	log    *slog.Logger
	logF   *os.File
	plans  []officerPlan
	col    *collector.Collector
	recs   *recsim.Server
	sys    *dock.System
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errMu  sync.Mutex
	errs   []error
}

func newWorld(ctx context.Context, o options, out io.Writer) (_ *world, err error) {
	w := &world{o: o, out: out, start: time.Now()}
	if w.logF, err = os.Create(filepath.Join(o.dir, "demo.log")); err != nil {
		return nil, err
	}
	w.log = slog.New(slog.NewTextHandler(w.logF, &slog.HandlerOptions{Level: slog.LevelInfo}))
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	now := time.Now()
	w.plans = demoPlans(now)

	tok := make([]byte, 16)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	var ccfg collector.Config
	ccfg.DataDir = filepath.Join(o.dir, "collector")
	ccfg.HTTP = "127.0.0.1:0"
	ccfg.MQTT.Embedded = "127.0.0.1:0"
	ccfg.MQTT.ClientID = "collector-demo"
	ccfg.Analysis.Every = 2 * time.Second
	ccfg.Analysis.MinFirmware = "2.4.0"
	ccfg.Docks = []collector.DockEnrolment{{ID: demoDock, Unit: demoUnit, Token: token}}
	if w.col, err = collector.New(ctx, ccfg, collector.Options{Log: w.log.With("side", "collector")}); err != nil {
		return nil, err
	}

	// The recorders, and the dock's list of enrolled ones.
	var recs []*recsim.Recorder
	enrolled := map[string]string{}
	for _, p := range w.plans {
		p.cfg.Rate = o.rate
		p.cfg.Logger = w.log.With("side", "recorder", "serial", p.serial)
		r, err := buildRecorder(filepath.Join(o.dir, "recorders"), p, now)
		if err != nil {
			return nil, fmt.Errorf("recorder %s: %w", p.serial, err)
		}
		recs = append(recs, r)
		if p.enrolled {
			enrolled[r.Serial()] = r.PublicKeyBase64()
		}
	}
	if w.recs, err = recsim.NewServer(recs, &recsim.ServerOpts{TCP: "127.0.0.1:0", Logger: w.log.With("side", "recsim")}); err != nil {
		return nil, err
	}

	// The dock on a simulated board whose slot links reach the recorders.
	spec, err := board.NewSimSpec("demo-5slot", len(recs))
	if err != nil {
		return nil, err
	}
	b, err := board.Open(spec, &board.Opts{Logger: w.log.With("side", "board"), Link: board.DefaultOpts.Link})
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if err := b.Sim().SetLink(i, w.recs.Addr(i)); err != nil {
			b.Halt()
			return nil, err
		}
	}
	ddir := filepath.Join(o.dir, "dock")
	if err := os.MkdirAll(ddir, 0o750); err != nil {
		b.Halt()
		return nil, err
	}
	keyFile := filepath.Join(ddir, "buffer.key")
	if err := buffer.WriteKeyFile(keyFile); err != nil {
		b.Halt()
		return nil, err
	}
	enrolledFile := filepath.Join(ddir, "recorders.json")
	eb, _ := json.Marshal(enrolled)
	if err := os.WriteFile(enrolledFile, eb, 0o640); err != nil {
		b.Halt()
		return nil, err
	}
	dcfg := &dock.Config{Dock: demoDock, Unit: demoUnit, Board: "(simulated)", DataDir: ddir, BufferKeyFile: keyFile,
		BufferCapacity: 4 << 30, EnrolledDevices: enrolledFile, StateEvery: 2 * time.Second}
	dcfg.Collector.URL = w.col.UploadURL()
	dcfg.Collector.PublicKey = base64.StdEncoding.EncodeToString(w.col.PublicKey())
	dcfg.MQTT.Broker = w.col.BrokerURL()
	dcfg.MQTT.AckTimeout = 5 * time.Second
	if w.sys, err = dock.Open(dcfg, dock.OpenOpts{Version: "demo", Log: w.log.With("side", "dock"), Board: b, Token: token}); err != nil {
		return nil, err
	}
	return w, nil
}

// goRun runs a part until the world closes, keeping its error.
func (w *world) goRun(ctx context.Context, name string, f func(context.Context) error) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
			w.errMu.Lock()
			w.errs = append(w.errs, fmt.Errorf("%s: %w", name, err))
			w.errMu.Unlock()
		}
	}()
}

// close stops every part, in order, and joins them.
func (w *world) close() error {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
	var errs []error
	if w.sys != nil {
		errs = append(errs, w.sys.Close())
	}
	if w.recs != nil {
		errs = append(errs, w.recs.Close())
	}
	if w.col != nil {
		errs = append(errs, w.col.Close())
	}
	if w.logF != nil {
		errs = append(errs, w.logF.Close())
	}
	w.errMu.Lock()
	errs = append(errs, w.errs...)
	w.errMu.Unlock()
	return errors.Join(errs...)
}
