package testworld

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/drivers/board"
	"github.com/berthdock/berth/firmware-protocol/recsim"
	"github.com/cenkalti/backoff/v5"
	"github.com/jonboulle/clockwork"
)

// Config says what differs between worlds; everything else is wired the
// same for every test, benchmark and the demo.
type Config struct {
	Dir     string       // working directory: collector/, dock/
	Log     *slog.Logger // nil: discarded
	DockID  string       // default "dock-" and random hex
	Unit    string       // default "unit-test"
	Version string       // the dock's reported version
	// Recorders, one per slot, in slot order (Plan.Build, recsim.Generate).
	Recorders []*recsim.Recorder
	// Unknown lists serials the dock does not enrol (refused at docking).
	Unknown map[string]bool
	// Collector and Dock adjust the configurations before the parts open
	// (broker, store, analysis, webhooks; capacity, rates).
	Collector func(*collector.Config)
	Dock      func(*dock.Config)
	// Board options for the simulated board (nil: defaults).
	Board *board.Opts
	// CardReader gives the simulated board an officers' card reader
	// (board.Sim().PresentCard).
	CardReader bool
	// Slot tunes the dock's slots (charge thresholds, periods).
	Slot slot.Config
	// NoDock: the dock runs elsewhere (dockd as a subprocess); the world
	// writes its files (DockConfig names them) but opens no dock.
	NoDock bool
	// Storage adds slots for legacy mass-storage recorders after the
	// recorders' slots (board file storage:), in order; the dock
	// configuration's mass_storage section says how they are ingested.
	Storage []board.StorageSpec
}

// World is a running collector (with its broker), recsim recorders and a
// dock on a simulated board whose slot links reach them.
type World struct {
	Col     *collector.Collector
	ColCfg  collector.Config
	Recs    *recsim.Server
	Sys     *dock.System // nil with NoDock
	DockCfg *dock.Config // its files are written under Dir/dock
	Token   string
	// Orig is what each recorder held before docking, captured from its
	// bytes at Start.
	Orig Originals

	log      *slog.Logger
	colStop  context.CancelFunc
	colDone  chan error
	stop     context.CancelFunc // the recorders
	wg       sync.WaitGroup
	dockStop context.CancelFunc
	dockWG   sync.WaitGroup
	mu       sync.Mutex
	errs     []error
	closed   bool
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Start opens every part and runs it: the collector first, the recorders,
// and the dock once the collector's ingest is ready. Nothing is docked:
// DockAll (or the board's Sim().Insert) drops the recorders in. Close
// stops it all.
func Start(ctx context.Context, cfg Config) (_ *World, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.DockID == "" {
		cfg.DockID = "dock-" + randHex(4)
	}
	if cfg.Unit == "" {
		cfg.Unit = "unit-test"
	}
	w := &World{log: cfg.Log, Token: randHex(16)}
	defer func() {
		if err != nil {
			err = errors.Join(err, w.Close())
		}
	}()
	if w.Orig, err = Capture(cfg.Recorders); err != nil {
		return nil, err
	}

	cc := &w.ColCfg
	cc.DataDir = filepath.Join(cfg.Dir, "collector")
	cc.HTTP = "127.0.0.1:0"
	cc.MQTT.Embedded = "127.0.0.1:0"
	cc.MQTT.ClientID = "collector-" + cfg.DockID
	cc.Analysis.Every = time.Hour // tests run Engine().Pass themselves
	cc.Docks = []collector.DockEnrolment{{ID: cfg.DockID, Unit: cfg.Unit, Token: w.Token}}
	if cfg.Collector != nil {
		cfg.Collector(cc)
	}
	if err := w.StartCollector(ctx); err != nil {
		return nil, err
	}
	// A restarted collector comes back where the dock looks for it.
	cc.HTTP = w.Col.HTTPAddr()
	if cc.MQTT.Embedded != "" {
		u, err := url.Parse(w.Col.BrokerURL())
		if err != nil {
			return nil, err
		}
		cc.MQTT.Embedded = u.Host
	}

	if w.Recs, err = recsim.NewServer(cfg.Recorders, &recsim.ServerOpts{TCP: "127.0.0.1:0", Logger: cfg.Log.With("side", "recsim")}); err != nil {
		return nil, err
	}
	if w.DockCfg, err = w.writeDockFiles(cfg); err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w.stop = stop
	w.run(runCtx, "recsim", w.Recs.Run)
	if cfg.NoDock {
		return w, nil
	}

	spec, err := board.NewSimSpec("testworld", len(cfg.Recorders)+len(cfg.Storage))
	if err != nil {
		return nil, err
	}
	for i, st := range cfg.Storage {
		spec.Slots[len(cfg.Recorders)+i].Storage = &st
	}
	if cfg.CardReader {
		spec.CardReader = &board.CardReaderSpec{SPI: "SIM_SPI_CARD", Reset: board.Pin{Name: "SIM_CARD_RST"},
			IRQ: board.Pin{Name: "SIM_CARD_IRQ"}, Gain: 4}
	}
	b, err := board.Open(spec, cfg.Board)
	if err != nil {
		return nil, err
	}
	for i := range cfg.Recorders {
		if err := b.Sim().SetLink(i, w.Recs.Addr(i)); err != nil {
			b.Halt()
			return nil, err
		}
	}
	if w.Sys, err = dock.Open(w.DockCfg, dock.OpenOpts{Version: cfg.Version, Log: cfg.Log.With("side", "dock"), Board: b, Token: w.Token,
		Slot: cfg.Slot}); err != nil {
		return nil, err
	}
	dockCtx, dockStop := context.WithCancel(runCtx)
	w.dockStop = dockStop
	w.dockWG.Add(1)
	go func() {
		defer w.dockWG.Done()
		if err := w.Sys.Dock.Run(dockCtx); err != nil && !errors.Is(err, context.Canceled) {
			w.mu.Lock()
			w.errs = append(w.errs, fmt.Errorf("dock: %w", err))
			w.mu.Unlock()
		}
	}()
	return w, nil
}

// writeDockFiles writes the dock's buffer key, enrolled recorders and
// token under Dir/dock and returns its configuration.
func (w *World) writeDockFiles(cfg Config) (*dock.Config, error) {
	ddir := filepath.Join(cfg.Dir, "dock")
	if err := os.MkdirAll(ddir, 0o750); err != nil {
		return nil, err
	}
	keyFile := filepath.Join(ddir, "buffer.key")
	if err := buffer.WriteKeyFile(keyFile); err != nil {
		return nil, err
	}
	enrolled := map[string]string{}
	for _, r := range cfg.Recorders {
		if !cfg.Unknown[r.Serial()] {
			enrolled[r.Serial()] = r.PublicKeyBase64()
		}
	}
	eb, err := json.Marshal(enrolled)
	if err != nil {
		return nil, err
	}
	ef, tf := filepath.Join(ddir, "recorders.json"), filepath.Join(ddir, "token")
	if err := os.WriteFile(ef, eb, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(tf, []byte(w.Token+"\n"), 0o600); err != nil {
		return nil, err
	}
	dc := &dock.Config{Dock: cfg.DockID, Unit: cfg.Unit, Board: "(sim)", DataDir: filepath.Join(ddir, "data"), BufferKeyFile: keyFile,
		BufferCapacity: 1 << 30, EnrolledDevices: ef, StateEvery: 2 * time.Second}
	dc.Collector.URL = w.Col.UploadURL()
	dc.Collector.PublicKey = base64.StdEncoding.EncodeToString(w.Col.PublicKey())
	dc.Collector.TokenFile = tf
	dc.MQTT.Broker = w.Col.BrokerURL()
	dc.MQTT.AckTimeout = 3 * time.Second
	if cfg.Dock != nil {
		cfg.Dock(dc)
	}
	return dc, nil
}

// run runs a part until its ctx ends, keeping its error.
func (w *World) run(ctx context.Context, name string, f func(context.Context) error) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
			w.mu.Lock()
			w.errs = append(w.errs, fmt.Errorf("%s: %w", name, err))
			w.mu.Unlock()
		}
	}()
}

// wall is the real clock the world waits on: it drives real processes,
// brokers and sockets, so its waits are wall-clock time.
var wall = clockwork.NewRealClock()

// StartCollector opens the collector on ColCfg (after the first start, on
// the same data directory and ports), runs it, and returns once its ingest
// is ready.
func (w *World) StartCollector(ctx context.Context) error {
	var col *collector.Collector
	var err error
	// A previous collector's ports were just closed; binding them again
	// may briefly fail while the kernel lets go.
	bo := &backoff.ExponentialBackOff{InitialInterval: 50 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 1.5,
		MaxInterval: 500 * time.Millisecond}
	bo.Reset()
	deadline := wall.Now().Add(10 * time.Second)
	for {
		col, err = collector.New(ctx, w.ColCfg, collector.Options{Log: w.log.With("side", "collector")})
		if err == nil || wall.Now().After(deadline) || w.Col == nil && w.colStop == nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wall.After(bo.NextBackOff()):
		}
	}
	if err != nil {
		return fmt.Errorf("testworld: collector: %w", err)
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.Col, w.colStop, w.colDone = col, cancel, make(chan error, 1)
	go func() { w.colDone <- col.Run(cctx) }()
	select {
	case <-col.Ingest().Ready():
		return nil
	case err := <-w.colDone:
		w.colDone <- err
		return fmt.Errorf("testworld: collector stopped at start: %w", err)
	case <-wall.After(30 * time.Second):
		return errors.New("testworld: collector ingest not ready after 30 s")
	}
}

// StopCollector stops the collector and its embedded broker and closes
// its store.
func (w *World) StopCollector() error {
	if w.Col == nil {
		return nil
	}
	w.colStop()
	err := <-w.colDone
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	err = errors.Join(err, w.Col.Close())
	w.Col = nil
	return err
}

// DockAll drops every recorder into its slot.
func (w *World) DockAll() error {
	for i := range w.Recs.Recorders() {
		if err := w.Sys.Board.Sim().Insert(i); err != nil {
			return err
		}
	}
	return nil
}

// Settled is the world's dock (in process) settled by the one predicate.
func (w *World) Settled(ctx context.Context) bool {
	return Settled(ctx, w.Sys.Dock.Status(), w.Col.Store())
}

// WaitSettled waits until Settled has held for stable (the collector's
// analysis then judges a world that no longer moves), or within ends.
func (w *World) WaitSettled(ctx context.Context, within, stable time.Duration) error {
	deadline := wall.Now().Add(within)
	var since time.Time
	for {
		if w.Settled(ctx) {
			if since.IsZero() {
				since = wall.Now()
			}
			if wall.Since(since) >= stable {
				return nil
			}
		} else {
			since = time.Time{}
		}
		if wall.Now().After(deadline) {
			return fmt.Errorf("testworld: not settled within %s: %+v", within, w.Sys.Dock.Status())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wall.After(100 * time.Millisecond):
		}
	}
}

// Check runs the evidence truth checks (Check) on this world.
func (w *World) Check(ctx context.Context) (Tally, error) {
	return Check(ctx, w.Col, filepath.Join(w.ColCfg.DataDir, "evidence", "objects"), w.Recs.Recorders(), w.Orig)
}

// Close stops the dock first (its offline state reaches the broker), then
// the recorders and the collector, joins them and closes everything. It
// returns the parts' errors.
func (w *World) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	if w.dockStop != nil {
		w.dockStop()
	}
	w.dockWG.Wait()
	if w.stop != nil {
		w.stop()
	}
	w.wg.Wait()
	var errs []error
	if w.Sys != nil {
		errs = append(errs, w.Sys.Close())
	}
	if w.Recs != nil {
		errs = append(errs, w.Recs.Close())
	}
	errs = append(errs, w.StopCollector())
	w.mu.Lock()
	errs = append(errs, w.errs...)
	w.mu.Unlock()
	return errors.Join(errs...)
}
