package slot

import (
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/led"
)

// TakePattern is the LED of the slot whose recorder an officer who just
// tapped their card should take (fast green: "this one is yours").
var TakePattern = led.Blink(led.Green, 200*time.Millisecond)

// OfferKeeper keeps each slot's standing checkout offer durably (the
// buffer's kept records): a dockd restart or crash between the tap and the
// officer taking the recorder then still reports whom it was offered to.
type OfferKeeper interface {
	KeepOffer(buffer.Offer) error
	Offer(slot int) (buffer.Offer, bool, error)
	ForgetOffer(slot int) error
}

// taking is a checkout waiting for the officer to take the recorder.
type taking struct {
	officer string
	serial  string
	at      time.Time // the tap
	until   time.Time // the LED stops and the offer lapses
	// restored: kept across a restart and not shown yet. The session
	// must identify the same recorder again and find it ready before its
	// LED shows TakePattern; a fault or another serial withdraws it.
	restored bool
	docking  *continuation // the docking it was offered in (nil: not known)
}

// Offering is a slot's standing offer, for dockctl.
type Offering struct {
	Officer string
	Serial  string
	At      time.Time // the tap
	Until   time.Time // the offer lapses
	// Restored: kept across a dockd restart, waiting for the recorder to
	// be identified again and found ready (its LED does not show it yet).
	Restored bool
}

// Offered returns the slot's standing offer, if any.
func (s *Slot) Offered() (Offering, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.take
	if t == nil {
		return Offering{}, false
	}
	return Offering{Officer: t.officer, Serial: t.serial, At: t.at, Until: t.until, Restored: t.restored}, true
}

// Offer offers the slot's recorder to officer for hold if it is ready
// (footage handed over, battery charged) and not offered already: its LED
// shows TakePattern. The checkout is reported when the recorder is taken
// out before the offer lapses (ExpireOffer). The battery level is reported
// so the dock can pick the fullest of several ready recorders. The offer
// is kept durably (Config.Offers) before the LED shows it.
func (s *Slot) Offer(officer string, hold time.Duration) (ok bool) {
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	if s.st.State != wire.SlotReady || s.take != nil || s.st.Serial == "" {
		s.mu.Unlock()
		return false
	}
	s.take = &taking{officer: officer, serial: s.st.Serial, at: now, until: now.Add(hold), docking: s.cur}
	serial := s.st.Serial
	s.mu.Unlock()
	s.persistOffer()
	if err := s.hw.SetPattern(TakePattern); err != nil {
		s.log.Warn("led", "err", err)
	}
	s.rep.Audit(wire.AuditCheckoutOffered, s.cfg.Index, serial, 0, "officer "+officer)
	return true
}

// Ready reports whether the slot holds a recorder that can be offered, and
// its battery level at docking.
func (s *Slot) Ready() (ready bool, batteryPct int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.State != wire.SlotReady || s.take != nil || s.health == nil {
		return false, 0
	}
	return true, s.health.Battery.Percent
}

// ExpireOffer withdraws an offer whose hold has passed at now: the LED
// shows the slot's state again and nothing is reported.
func (s *Slot) ExpireOffer(now time.Time) {
	s.mu.Lock()
	t := s.take
	if t == nil || now.Before(t.until) {
		s.mu.Unlock()
		return
	}
	s.take = nil
	st := s.st
	s.mu.Unlock()
	s.persistOffer()
	if err := s.hw.SetPattern(Pattern(st.State, st.Fault)); err != nil {
		s.log.Warn("led", "err", err)
	}
	s.rep.Audit(wire.AuditCheckoutLapsed, s.cfg.Index, t.serial, 0, "officer "+t.officer+" did not take it")
}

// taken ends an offer at removal: a recorder taken out while offered is
// the officer's (reported); one taken after the offer lapsed is not. An
// offer kept across a restart and not shown again yet names its recorder
// when the slot has not identified it again (serial ""), and note is added
// to its audit.
func (s *Slot) taken(serial string, now time.Time, note string) {
	s.mu.Lock()
	t := s.take
	s.take = nil
	s.mu.Unlock()
	if t == nil {
		return
	}
	// The report is durable before the kept offer is forgotten: a crash
	// in between reports the checkout again, which the collector stores
	// once (one row per recorder, tap and dock).
	defer s.persistOffer()
	if !t.restored {
		note = ""
	}
	switch {
	case serial == "" && t.restored:
		serial = t.serial
	case serial == "" || serial != t.serial:
		return
	}
	if now.After(t.until) {
		s.rep.Audit(wire.AuditCheckoutLapsed, s.cfg.Index, serial, 0, "officer "+t.officer+" did not take it in time"+note)
		return
	}
	s.rep.Checkout(wire.Checkout{Serial: serial, Officer: t.officer, Slot: s.cfg.Index, At: t.at.UTC()})
	s.rep.Audit(wire.AuditCheckout, s.cfg.Index, serial, 0, "officer "+t.officer+note)
}

// persistOffer brings the kept offer in line with the slot's standing one
// (kept, or forgotten when none stands). Every change of the offer calls
// it afterwards; calls are serialised and each writes the offer as it
// stands then, so the last one leaves the latest. A failure is logged: the
// offer still holds in memory, but a restart would not know it.
func (s *Slot) persistOffer() {
	if s.cfg.Offers == nil {
		return
	}
	s.keepMu.Lock()
	defer s.keepMu.Unlock()
	s.mu.Lock()
	t := s.take
	var o buffer.Offer
	if t != nil {
		o = buffer.Offer{Slot: s.cfg.Index, Serial: t.serial, Officer: t.officer, At: t.at.UTC(), Until: t.until.UTC()}
		if c := t.docking; c != nil {
			o.Docking = buffer.OfferDocking{At: c.at.UTC(), LastSeq: c.lastSeq, Recording: c.recording, ClockSet: c.clockSet,
				ClockOffsetMs: c.offsetMs}
		}
	}
	s.mu.Unlock()
	if t == nil {
		if err := s.cfg.Offers.ForgetOffer(s.cfg.Index); err != nil {
			s.log.Error("ended checkout offer not forgotten: a restart may offer it again", "err", err)
		}
		return
	}
	if err := s.cfg.Offers.KeepOffer(o); err != nil {
		s.log.Error("checkout offer not kept: a restart before the recorder is taken forgets it", "officer", o.Officer, "err", err)
	}
}

// restoreOffer takes up the offer kept for this slot before a restart, as
// Run starts: it stands until it lapses as any offer does, waiting for the
// session to identify the same recorder again (update). One that lapsed
// while dockd was down is audited and forgotten.
func (s *Slot) restoreOffer() {
	if s.cfg.Offers == nil {
		return
	}
	o, found, err := s.cfg.Offers.Offer(s.cfg.Index)
	if err != nil {
		s.log.Error("kept checkout offer unreadable: forgotten", "err", err)
		s.persistOffer()
		return
	}
	if !found {
		return
	}
	if now := s.cfg.Clock.Now(); !now.Before(o.Until) {
		s.rep.Audit(wire.AuditCheckoutLapsed, s.cfg.Index, o.Serial, 0, "officer "+o.Officer+" did not take it (it lapsed while dockd was down)")
		s.persistOffer()
		return
	}
	t := &taking{officer: o.Officer, serial: o.Serial, at: o.At, until: o.Until, restored: true}
	if dk := o.Docking; !dk.At.IsZero() {
		// The recorder was docked when dockd stopped: a session that
		// finds it again, unchanged, continues that docking.
		t.docking = &continuation{serial: o.Serial, at: dk.At, lastSeq: dk.LastSeq, recording: dk.Recording,
			clockSet: dk.ClockSet, offsetMs: dk.ClockOffsetMs, after: "a dockd restart"}
	}
	s.mu.Lock()
	s.take = t
	s.cont = t.docking
	s.mu.Unlock()
	s.log.Info("checkout offer kept across a restart", "officer", o.Officer, "serial", o.Serial, "until", o.Until)
}

// offerOnUpdate follows a state change st for the standing offer t
// (under s.mu): it withdraws the offer when the recorder is no longer the
// one offered or no longer ready, and shows a restored one once its
// recorder is identified again and ready. It returns the offer withdrawn
// or shown, if any.
func (s *Slot) offerOnUpdate(st wire.SlotState) (ended, shown *taking) {
	t := s.take
	if t == nil {
		return nil, nil
	}
	switch {
	case st.State == wire.SlotFault, st.Serial != "" && st.Serial != t.serial:
		// A fault, or another recorder: not the one to take any more.
	case !t.restored && st.State != wire.SlotReady && st.State != wire.SlotEmpty:
		// A new session: the recorder is not ready to take any more.
	case t.restored && st.State == wire.SlotReady && st.Serial == t.serial:
		t.restored = false
		return nil, t
	default:
		return nil, nil
	}
	s.take = nil
	return t, nil
}

// withdrawRestored withdraws an offer kept across a restart that has not
// been shown again: the session found its recorder changed (why).
func (s *Slot) withdrawRestored(why string) {
	s.mu.Lock()
	t := s.take
	if t == nil || !t.restored {
		s.mu.Unlock()
		return
	}
	s.take = nil
	s.mu.Unlock()
	s.persistOffer()
	s.rep.Audit(wire.AuditCheckoutLapsed, s.cfg.Index, t.serial, 0, "officer "+t.officer+": offer withdrawn after a dockd restart: "+why)
}
