package slot

import (
	"slices"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/led"
)

func (h *hw) lastPattern() led.Pattern {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pat[len(h.pat)-1]
}

// TestCheckoutOffer: only a ready recorder is offered; its LED shows
// TakePattern until it is taken, and taking it reports the checkout with
// the tap's time; an offer that lapses restores the LED and reports
// nothing.
func TestCheckoutOffer(t *testing.T) {
	r := newRigWith(t, true, func(c *Config) { c.ChargedPct = 80 }, nil) // devicetest's battery is at 87%
	if r.slot.Offer("o-7", time.Minute) {
		t.Fatal("an empty slot was offered")
	}
	r.rec.AddRandom(1, 1000, 1, t0)
	r.dock(true)
	r.waitState(t, wire.SlotReady)
	if ok, pct := r.slot.Ready(); !ok || pct != 87 {
		t.Fatalf("ready %v at %d%%", ok, pct)
	}
	tap := time.Now()
	if !r.slot.Offer("o-7", time.Minute) {
		t.Fatal("a ready recorder was not offered")
	}
	if r.slot.Offer("o-8", time.Minute) {
		t.Error("one recorder offered twice")
	}
	if p := r.hw.lastPattern(); p != TakePattern {
		t.Errorf("LED %s, want %s", p, TakePattern)
	}
	r.slot.ExpireOffer(time.Now()) // not yet
	r.dock(false)
	r.waitState(t, wire.SlotEmpty)
	r.rep.mu.Lock()
	cos, audits := slices.Clone(r.rep.checkouts), slices.Clone(r.rep.audits)
	r.rep.mu.Unlock()
	if len(cos) != 1 || cos[0].Officer != "o-7" || cos[0].Serial != "REC-0001" || cos[0].Slot != 2 || cos[0].At.Before(tap.Add(-time.Second)) {
		t.Fatalf("checkouts %+v", cos)
	}
	if err := (&cos[0]).Validate(); err != nil {
		t.Error(err)
	}
	if !slices.Contains(audits, wire.AuditCheckout) || !slices.Contains(audits, wire.AuditCheckoutOffered) {
		t.Errorf("audits %v", audits)
	}

	// Docked again and offered, but not taken in time.
	r.dock(true)
	r.waitState(t, wire.SlotReady)
	if !r.slot.Offer("o-9", time.Minute) {
		t.Fatal("not offered")
	}
	r.slot.ExpireOffer(time.Now().Add(2 * time.Minute))
	if p := r.hw.lastPattern(); p != Pattern(wire.SlotReady, "") {
		t.Errorf("LED after the offer lapsed: %s", p)
	}
	r.dock(false)
	r.waitState(t, wire.SlotEmpty)
	r.rep.mu.Lock()
	n := len(r.rep.checkouts)
	lapsed := slices.Contains(r.rep.audits, wire.AuditCheckoutLapsed)
	r.rep.mu.Unlock()
	if n != 1 || !lapsed {
		t.Errorf("%d checkouts (a lapsed offer reported?), lapse audited %v", n, lapsed)
	}
}
