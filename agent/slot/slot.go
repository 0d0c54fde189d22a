package slot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/presence"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Config of one slot.
type Config struct {
	Index int
	Dock  string
	Keys  docklink.KeyStore // the fleet's enrolled recorder keys
	Link  docklink.ClientOpts
	// LinkWait bounds how long a freshly powered recorder may take to
	// enumerate and answer HELLO.
	LinkWait time.Duration
	// StatusEvery is the charge monitor's period.
	StatusEvery time.Duration
	// MaxBatteryTempC cuts charging above it.
	MaxBatteryTempC float64
	// NotChargingAfter: a battery below ChargedPct that has not been
	// charging for this long is reported.
	NotChargingAfter time.Duration
	ChargedPct       int
	// ProgressEvery rate-limits progress reports while copying.
	ProgressEvery time.Duration
	// Batteries are the recorder models' batteries by model name, for
	// measuring capacity from the charge current (slots with a current
	// sensor). A model not listed is measured in mAh only.
	Batteries map[string]BatteryModel
	// Clock waits and stamps (nil: the real clock).
	Clock clockwork.Clock
	// Holes are the supervisors' decisions to release around a sequence
	// hole (nil: none; every hole withholds releases).
	Holes *HoleReleases
	// Firmware, if set, updates a recorder's firmware once its footage is
	// safe in the buffer (firmware.go).
	Firmware FirmwareStep
	// Storage, if set, makes this a slot for legacy recorders that present
	// as USB mass storage instead of speaking DockLink (storage.go).
	Storage Storage
	// Offers, if set, keeps the slot's checkout offer across a restart
	// (checkout.go); nil: offers live in memory only.
	Offers OfferKeeper
}

func (c *Config) defaults() {
	if c.LinkWait <= 0 {
		c.LinkWait = 20 * time.Second
	}
	if c.StatusEvery <= 0 {
		c.StatusEvery = 30 * time.Second
	}
	if c.MaxBatteryTempC == 0 {
		c.MaxBatteryTempC = 55
	}
	if c.NotChargingAfter <= 0 {
		c.NotChargingAfter = 20 * time.Minute
	}
	if c.ChargedPct == 0 {
		c.ChargedPct = 95
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = time.Second
	}
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
}

// Slot runs one slot. Its methods are safe for concurrent use.
type Slot struct {
	cfg Config
	hw  Hardware
	pw  Power
	buf Buffer
	rc  Receipts
	rep Reports
	log *slog.Logger

	cycle chan chan error

	mu     sync.Mutex
	st     wire.SlotState
	since  time.Time
	health *wire.DeviceHealth
	lastPr time.Time
	take   *taking       // an offer to an officer (checkout.go)
	cur    *continuation // the docking under way, once identified (continued.go)
	cont   *continuation // the docking the next session may continue

	keepMu sync.Mutex // serialises persistOffer's writes
}

// New makes a slot; Run drives it.
func New(cfg Config, hw Hardware, pw Power, buf Buffer, rc Receipts, rep Reports, log *slog.Logger) *Slot {
	cfg.defaults()
	s := &Slot{cfg: cfg, hw: hw, pw: pw, buf: buf, rc: rc, rep: rep, log: log.With("slot", cfg.Index),
		cycle: make(chan chan error)}
	s.st = wire.SlotState{Slot: cfg.Index, State: wire.SlotEmpty}
	s.since = cfg.Clock.Now()
	return s
}

// State returns the slot's state and since when it holds.
func (s *Slot) State() (wire.SlotState, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st, s.since
}

// Health returns the last health snapshot of the recorder in the slot.
func (s *Slot) Health() (wire.DeviceHealth, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.health == nil {
		return wire.DeviceHealth{}, false
	}
	return *s.health, true
}

// update changes the slot state under the lock and reports it. Progress-only
// changes (same state) are rate-limited unless force is set.
func (s *Slot) update(force bool, f func(st *wire.SlotState)) {
	s.mu.Lock()
	old := s.st
	f(&s.st)
	st := s.st
	now := s.cfg.Clock.Now()
	changed := old.State != st.State || old.Fault != st.Fault || old.Serial != st.Serial
	if changed {
		s.since = now
	}
	ended, shown := s.offerOnUpdate(st)
	offered := s.take != nil && !s.take.restored
	report := changed || force || now.Sub(s.lastPr) >= s.cfg.ProgressEvery
	if report {
		s.lastPr = now
	}
	s.mu.Unlock()
	if changed && !offered {
		if err := s.hw.SetPattern(Pattern(st.State, st.Fault)); err != nil {
			s.log.Warn("led", "err", err)
		}
	}
	if changed {
		s.log.Info("slot state", "state", st.State, "serial", st.Serial, "fault", st.Fault)
	}
	switch {
	case ended != nil:
		s.persistOffer()
		s.rep.Audit(wire.AuditCheckoutLapsed, s.cfg.Index, ended.serial, 0,
			fmt.Sprintf("officer %s: offer withdrawn (slot %s, serial %q)", ended.officer, st.State, st.Serial))
	case shown != nil:
		if err := s.hw.SetPattern(TakePattern); err != nil {
			s.log.Warn("led", "err", err)
		}
		s.rep.Audit(wire.AuditCheckoutOffered, s.cfg.Index, shown.serial, 0, "officer "+shown.officer+" (offer kept across a dockd restart)")
	}
	if report {
		s.rep.Slot(st)
	}
}

func (s *Slot) setState(state string) {
	s.update(true, func(st *wire.SlotState) { st.State = state })
}

// settle marks the footage handed over (uploaded, released) unless the
// slot is ready already: the charge monitor marks an uploaded or released
// recorder ready once charged, concurrently with the session, and ready
// does not step back (an officer's offer stands on it).
func (s *Slot) settle(state string) {
	s.update(true, func(st *wire.SlotState) {
		if st.State != wire.SlotReady {
			st.State = state
		}
	})
}

// fault shows a fault; the session goes on where it can.
func (s *Slot) fault(reason, detail string) {
	s.update(true, func(st *wire.SlotState) { st.State, st.Fault, st.Detail = wire.SlotFault, reason, detail })
	s.rep.Audit(wire.AuditFault, s.cfg.Index, s.serial(), 0, reason+": "+detail)
}

func (s *Slot) serial() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Serial
}

func (s *Slot) faultIs(reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.State == wire.SlotFault && s.st.Fault == reason
}

func (s *Slot) faulted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.State == wire.SlotFault
}

// PowerCycle cuts and restores the slot's power and restarts the session (a
// hung recorder), on a custodian's command.
func (s *Slot) PowerCycle(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case s.cycle <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run follows the slot's presence events until ctx ends or events closes.
func (s *Slot) Run(ctx context.Context, events <-chan presence.Event) error {
	var (
		present bool
		cancel  context.CancelFunc = func() {}
		done    chan struct{}
	)
	stop := func() {
		cancel()
		if done != nil {
			<-done
			done = nil
		}
	}
	start := func() {
		if err := s.pw.Set(true); err != nil {
			s.log.Error("charge on", "err", err)
		}
		var sctx context.Context
		sctx, cancel = context.WithCancel(ctx)
		done = make(chan struct{})
		go func() {
			defer close(done)
			bo := relinkBackoff()
			session := s.session
			if s.cfg.Storage != nil {
				session = s.storageSession
			}
			for attempt := 0; session(sctx); attempt++ {
				// The link broke with the recorder still docked: start
				// over (the copy resumes at what the buffer holds).
				delay := bo.NextBackOff()
				s.log.Warn("link lost with the recorder docked; new session", "in", delay, "attempt", attempt+1)
				select {
				case <-sctx.Done():
					return
				case <-s.cfg.Clock.After(delay):
				}
				s.update(true, func(st *wire.SlotState) { *st = wire.SlotState{Slot: s.cfg.Index, State: wire.SlotPresent} })
			}
		}()
	}
	defer func() {
		stop()
		s.pw.Set(false)
		s.hw.SetPattern(Pattern(wire.SlotEmpty, ""))
	}()
	s.restoreOffer()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			switch {
			case !ev.Present && !present && ev.Initial:
				// Found empty at start: a recorder offered before a
				// restart was taken while dockd was down, and its
				// docking ended.
				s.taken("", s.cfg.Clock.Now(), " (taken out while dockd was down)")
				s.setContinuation(nil)
			case ev.Present && !present:
				present = true
				s.update(true, func(st *wire.SlotState) { *st = wire.SlotState{Slot: s.cfg.Index, State: wire.SlotPresent} })
				s.rep.Audit(wire.AuditDocked, s.cfg.Index, "", 0, "")
				start()
			case !ev.Present && present:
				present = false
				serial := s.serial()
				s.taken(serial, s.cfg.Clock.Now(), " (offer kept across a dockd restart; taken out before the slot showed it again)")
				stop()
				if err := s.pw.Set(false); err != nil {
					s.log.Error("charge off", "err", err)
				}
				s.update(true, func(st *wire.SlotState) { *st = wire.SlotState{Slot: s.cfg.Index, State: wire.SlotEmpty} })
				s.rep.Audit(wire.AuditUndocked, s.cfg.Index, serial, 0, "")
				s.mu.Lock()
				s.health, s.cur, s.cont = nil, nil, nil
				s.mu.Unlock()
			}
		case reply := <-s.cycle:
			stop()
			err := s.pw.PowerCycle(ctx)
			s.rep.Audit(wire.AuditCommand, s.cfg.Index, s.serial(), 0, "power-cycle")
			if present {
				s.update(true, func(st *wire.SlotState) { *st = wire.SlotState{Slot: s.cfg.Index, State: wire.SlotPresent} })
				start()
			} else if err == nil {
				err = s.pw.Set(false)
			}
			reply <- err
		}
	}
}

// connect opens the link and the DockLink session, retrying while a freshly
// powered recorder boots.
func (s *Slot) connect(ctx context.Context) (*docklink.Client, error) {
	deadline := s.cfg.Clock.Now().Add(s.cfg.LinkWait)
	var last error
	for {
		rw, err := s.hw.OpenLink(ctx)
		if err == nil {
			opts := s.cfg.Link
			opts.DockID = s.cfg.Dock
			c := docklink.NewClient(rw, &opts)
			if _, err = c.Hello(ctx); err == nil {
				return c, nil
			}
			c.Close()
		}
		last = err
		if ctx.Err() != nil || s.cfg.Clock.Now().After(deadline) {
			return nil, fmt.Errorf("slot %d: no DockLink session within %s: %w", s.cfg.Index, s.cfg.LinkWait, last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.cfg.Clock.After(500 * time.Millisecond):
		}
	}
}

var errRemoved = errors.New("slot: recorder removed")

// closeQuietly closes c, logging a failure.
func closeQuietly(c io.Closer, log *slog.Logger) {
	if err := c.Close(); err != nil {
		log.Debug("close link", "err", err)
	}
}

// relinkBackoff spaces the new sessions after a link lost with the
// recorder still docked: from 1 s, doubling to 30 s, jittered by ±50 %.
func relinkBackoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{InitialInterval: time.Second, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 30 * time.Second}
	b.Reset()
	return b
}
