package slot

import (
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/led"
)

// TakePattern is the LED of the slot whose recorder an officer who just
// tapped their card should take (fast green: "this one is yours").
var TakePattern = led.Blink(led.Green, 200*time.Millisecond)

// taking is a checkout waiting for the officer to take the recorder.
type taking struct {
	officer string
	at      time.Time // the tap
	until   time.Time // the LED stops and the offer lapses
}

// Offer offers the slot's recorder to officer for hold if it is ready
// (footage handed over, battery charged) and not offered already: its LED
// shows TakePattern. The checkout is reported when the recorder is taken
// out before the offer lapses (ExpireOffer). The battery level is reported
// so the dock can pick the fullest of several ready recorders.
func (s *Slot) Offer(officer string, hold time.Duration) (ok bool) {
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	if s.st.State != wire.SlotReady || s.take != nil || s.st.Serial == "" {
		s.mu.Unlock()
		return false
	}
	s.take = &taking{officer: officer, at: now, until: now.Add(hold)}
	serial := s.st.Serial
	s.mu.Unlock()
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
	if err := s.hw.SetPattern(Pattern(st.State, st.Fault)); err != nil {
		s.log.Warn("led", "err", err)
	}
	s.rep.Audit(wire.AuditCheckoutLapsed, s.cfg.Index, st.Serial, 0, "officer "+t.officer+" did not take it")
}

// taken ends an offer at removal: a recorder taken out while offered is
// the officer's (reported); one taken after the offer lapsed is not.
func (s *Slot) taken(serial string, now time.Time) {
	s.mu.Lock()
	t := s.take
	s.take = nil
	s.mu.Unlock()
	if t == nil || serial == "" {
		return
	}
	if now.After(t.until) {
		s.rep.Audit(wire.AuditCheckoutLapsed, s.cfg.Index, serial, 0, "officer "+t.officer+" did not take it in time")
		return
	}
	s.rep.Checkout(wire.Checkout{Serial: serial, Officer: t.officer, Slot: s.cfg.Index, At: t.at.UTC()})
	s.rep.Audit(wire.AuditCheckout, s.cfg.Index, serial, 0, "officer "+t.officer)
}
