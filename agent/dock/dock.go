// Package dock wires dockd: the board's slots, the evidence buffer, the
// uploader, the outbox and its MQTT reporter, the audit log and the local
// API, in one typed struct with one Run.
package dock

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/agent/audit"
	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/firmware"
	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/agent/report"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/board"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Parts are the pieces a Dock is made of; dockd and the demo build them.
type Parts struct {
	Board  *board.Board
	Buffer Buffer
	Outbox Outbox
	Audit  *audit.Log
	Upload uploader.Client
	Keys   docklink.KeyStore
	Log    *slog.Logger
	Logs   *LogRing // for dockctl logs; may be nil
}

// Settings tune a Dock; zero values take defaults.
type Settings struct {
	Dock     string
	Unit     string // the unit (科室) the dock serves; recorders docked here report it
	Version  string
	Broker   string
	Username string
	Password string
	// TLS is the broker connection's TLS (ssl://), with the dock's client
	// certificate for mutual TLS; nil: paho's default.
	TLS        *tls.Config
	AckTimeout time.Duration
	StateEvery time.Duration
	Slot       slot.Config // per-slot settings; Index, Dock and Clock are filled in
	// Firmware, if set, runs firmware campaigns on docked recorders; its
	// Report is set to the dock's (firmware.go).
	Firmware *firmware.Updater
	// FirmwareFetch, if set, keeps Firmware's campaigns in step with the
	// collector's (a part of Run).
	FirmwareFetch *firmware.Fetcher
	Checkout      Checkout        // officers' cards, when the board has a card reader
	MassStorage   MassStorage     // slots of legacy mass-storage recorders (board file storage:)
	Clock         clockwork.Clock // nil: the real clock
}

// Dock is a running dock agent.
type Dock struct {
	set     Settings
	p       Parts
	slots   []*slot.Slot
	up      *uploader.Uploader
	rep     *report.Reporter
	hub     *receiptHub
	started time.Time

	seq atomic.Uint64 // message id counter
	mu  sync.Mutex    // serialises audit appends with their outbox puts

	partMu  sync.Mutex
	stopped map[string]error // parts that returned while the dock ran

	cycles chan powerCycle    // collector power-cycle commands, run by Run's commands part
	holes  *slot.HoleReleases // supervisors' decisions to release around a hole, shared by the slots
}

type powerCycle struct {
	slot int
	by   string
}

// New assembles a dock.
func New(set Settings, p Parts) (*Dock, error) {
	if err := wire.ValidID(set.Dock); err != nil {
		return nil, fmt.Errorf("dock: id: %w", err)
	}
	if p.Board == nil || p.Buffer == nil || p.Outbox == nil || p.Audit == nil || p.Upload == nil || p.Keys == nil {
		return nil, errors.New("dock: board, buffer, outbox, audit log, upload client and enrolled keys are all required")
	}
	if set.Clock == nil {
		set.Clock = clockwork.NewRealClock()
	}
	if set.StateEvery <= 0 {
		set.StateEvery = time.Minute
	}
	d := &Dock{set: set, p: p, started: set.Clock.Now(), stopped: map[string]error{}, cycles: make(chan powerCycle, 16)}
	d.hub = newReceiptHub(p.Buffer)
	holes, bad, err := slot.NewHoleReleases(p.Buffer)
	if err != nil {
		return nil, fmt.Errorf("dock: hole-release decisions: %w", err)
	}
	if bad > 0 {
		p.Log.Warn("hole-release decisions that do not decode were skipped (their recorders keep footage until decided again)", "records", bad)
	}
	d.holes = holes
	d.rep = report.New(report.Config{Dock: set.Dock, Broker: set.Broker, Username: set.Username, Password: set.Password, TLS: set.TLS, Clock: set.Clock,
		AckTimeout: set.AckTimeout, OnConnect: d.publishState}, p.Outbox, d.command, p.Log.With("part", "report"))
	d.up = uploader.New(p.Buffer, p.Upload, d.receipted, set.Clock, p.Log.With("part", "upload"))
	if set.Firmware != nil {
		set.Firmware.Report = d.Firmware
		if set.Firmware.Log == nil {
			set.Firmware.Log = p.Log.With("part", "firmware")
		}
		set.Slot.Firmware = set.Firmware
	}
	for _, bs := range p.Board.Slots() {
		cfg := set.Slot
		cfg.Index, cfg.Dock, cfg.Keys, cfg.Clock, cfg.Holes, cfg.Offers = bs.Index, set.Dock, p.Keys, set.Clock, d.holes, p.Buffer
		st, err := set.MassStorage.storageOf(bs, p.Buffer, p.Log.With("slot", bs.Index))
		if err != nil {
			return nil, err
		}
		cfg.Storage = st
		d.slots = append(d.slots, slot.New(cfg, bs, bs.Power, p.Buffer, d.hub, d, p.Log))
	}
	return d, nil
}

// Run runs every part until ctx ends, then stops them all and returns.
func (d *Dock) Run(ctx context.Context) error {
	d.Audit(wire.AuditStarted, -1, "", 0, "dockd "+d.set.Version)
	if last, ok := d.p.Audit.Last(); ok {
		d.shipAudit(last) // a crash may have come between append and shipping
	}
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f(ctx)
			if err != nil {
				d.p.Log.Error("part stopped", "part", name, "err", err)
			}
			if ctx.Err() == nil {
				if err == nil {
					err = errors.New("returned")
				}
				d.partMu.Lock()
				d.stopped[name] = err
				d.partMu.Unlock()
			}
		}()
	}
	run("report", d.rep.Run)
	run("upload", d.up.Run)
	run("buffer", d.p.Buffer.Run)
	run("state", d.stateLoop)
	run("commands", d.commandLoop)
	if d.set.FirmwareFetch != nil {
		run("firmware", d.set.FirmwareFetch.Run)
	}
	if d.p.Board.CardReader() != nil {
		run("cards", d.cardLoop)
	}
	for i, s := range d.slots {
		events := d.p.Board.Slots()[i].Presence.Events()
		run(fmt.Sprintf("slot %d", i), func(ctx context.Context) error { return s.Run(ctx, events) })
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// Healthy reports an error naming every part that stopped while the dock
// was running; dockd stops petting the systemd watchdog then, so systemd
// restarts it.
func (d *Dock) Healthy() error {
	d.partMu.Lock()
	defer d.partMu.Unlock()
	var errs []error
	for name, err := range d.stopped {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return errors.Join(errs...)
}

// Slots returns the slots, for the demo and tests.
func (d *Dock) Slots() []*slot.Slot { return d.slots }

// Uploader returns the upload loop, for progress displays.
func (d *Dock) Uploader() *uploader.Uploader { return d.up }

// Reporter returns the MQTT reporter.
func (d *Dock) Reporter() *report.Reporter { return d.rep }

// command handles a collector command.
func (d *Dock) command(e wire.Envelope, c *wire.Command) {
	d.Audit(wire.AuditCommand, c.Slot, "", 0, fmt.Sprintf("%s by %s (message %s)", c.Action, c.By, e.ID))
	switch c.Action {
	case wire.CmdPowerCycle:
		select {
		case d.cycles <- powerCycle{slot: c.Slot, by: c.By}:
		default:
			d.p.Log.Warn("power-cycle command dropped: too many queued", "slot", c.Slot, "by", c.By)
		}
	case wire.CmdRefresh:
		d.publishState()
		d.rep.Kick()
	case wire.CmdReleaseHole:
		d.Audit(wire.AuditCommand, -1, c.Serial, c.From, fmt.Sprintf("release around missing seq %d..%d decided by %s: %s",
			c.From, c.To, c.By, c.Reason))
		err := d.holes.Allow(buffer.HoleRelease{Serial: c.Serial, From: c.From, To: c.To, By: c.By, Reason: c.Reason, At: d.set.Clock.Now().UTC()})
		if err != nil {
			d.p.Log.Error("hole-release decision not kept: it holds until dockd restarts", "serial", c.Serial, "from", c.From, "to", c.To, "err", err)
		}
	}
}

// PowerCycle implements localapi.Dock.
func (d *Dock) PowerCycle(ctx context.Context, idx int, by string) error {
	if idx < 0 || idx >= len(d.slots) {
		return fmt.Errorf("%w: %d", localapi.ErrNoSlot, idx)
	}
	d.Audit(wire.AuditCommand, idx, "", 0, "power-cycle by "+by)
	return d.slots[idx].PowerCycle(ctx)
}

// Simulate implements localapi.Simulator: on a simulated board it closes
// or opens the slot's presence switch, as a recorder dropped in or taken.
func (d *Dock) Simulate(slot string, present bool, by string) error {
	var sim *board.Sim
	if d.p.Board != nil {
		sim = d.p.Board.Sim()
	}
	if sim == nil {
		return localapi.ErrNotSimulated
	}
	idx, err := d.slotIndex(slot)
	if err != nil {
		return err
	}
	action := "remove"
	if present {
		action = "insert"
	}
	d.Audit(wire.AuditCommand, idx, "", 0, "simulated "+action+" by "+by)
	if present {
		return sim.Insert(idx)
	}
	return sim.Remove(idx)
}

// slotIndex finds a slot by the board file's name for it (A, case-blind)
// or by its index.
func (d *Dock) slotIndex(s string) (int, error) {
	for i := range d.slots {
		if strings.EqualFold(d.slotName(i), s) {
			return i, nil
		}
	}
	if i, err := strconv.Atoi(s); err == nil && i >= 0 && i < len(d.slots) {
		return i, nil
	}
	return 0, fmt.Errorf("%w: %q", localapi.ErrNoSlot, s)
}

// slotName is the board file's name for slot i ("" without a board).
func (d *Dock) slotName(i int) string {
	if d.p.Board == nil || i >= len(d.p.Board.Spec().Slots) {
		return ""
	}
	return d.p.Board.Spec().Slots[i].Name
}

// receipted is the uploader's callback: wake the slots waiting for it and
// report the segment as uploaded (the buffer's manifest, which now holds
// the receipt).
func (d *Dock) receipted(p buffer.Pending, r wire.Receipt) {
	d.Audit(wire.AuditUploaded, -1, p.Serial, p.Seq, "receipt "+r.ObjectID)
	if m, err := d.p.Buffer.Manifest(p.Serial, p.Seq); err == nil {
		d.Manifest(m)
	} else {
		d.p.Log.Warn("manifest for uploaded segment", "serial", p.Serial, "seq", p.Seq, "err", err)
	}
	d.hub.notify()
}

// commandLoop runs the collector's power-cycle commands one at a time, each
// bounded to a minute, under Run's context.
func (d *Dock) commandLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case pc := <-d.cycles:
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			if err := d.PowerCycle(cctx, pc.slot, pc.by); err != nil && ctx.Err() == nil {
				d.p.Log.Warn("power-cycle command", "slot", pc.slot, "err", err)
			}
			cancel()
		}
	}
}

func (d *Dock) stateLoop(ctx context.Context) error {
	t := d.set.Clock.NewTicker(d.set.StateEvery)
	defer t.Stop()
	for {
		d.publishState()
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
		}
	}
}
