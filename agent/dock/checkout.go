package dock

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/cardreader"
)

// Checkout maps officers' cards to officers for checkout at shift start
// (dockd's checkout: section).
type Checkout struct {
	// Cards maps a card UID (upper-case hex, as the reader reads it) to
	// the officer it belongs to.
	Cards map[string]string `yaml:"cards"`
	// Hold is how long the offered recorder's LED shows TakePattern and
	// the offer stands (default 60 s).
	Hold time.Duration `yaml:"hold"`
}

// check validates the card map.
func (c *Checkout) check() error {
	for uid, officer := range c.Cards {
		if !cardreader.ValidUID(uid) {
			return fmt.Errorf("checkout.cards: %q is not a card UID (8 or 14 upper-case hex digits)", uid)
		}
		if err := wire.ValidID(officer); err != nil {
			return fmt.Errorf("checkout.cards[%s]: officer: %w", uid, err)
		}
	}
	if c.Hold < 0 {
		return fmt.Errorf("checkout.hold %s is negative", c.Hold)
	}
	return nil
}

// cardLoop runs the board's card reader: a tap by a known officer offers
// them the ready recorder with the fullest battery (its slot's LED shows
// which); the slot reports the checkout when it is taken out. It runs only
// when the board has a reader; the reader's Run is joined before it
// returns.
func (d *Dock) cardLoop(ctx context.Context) error {
	r := d.p.Board.CardReader()
	hold := d.set.Checkout.Hold
	if hold <= 0 {
		hold = time.Minute
	}
	taps := make(chan cardreader.Tap)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, taps) }()
	tick := d.set.Clock.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return <-done
		case err := <-done:
			return fmt.Errorf("card reader: %w", err)
		case now := <-tick.Chan():
			for _, s := range d.slots {
				s.ExpireOffer(now)
			}
		case tp := <-taps:
			d.tap(tp, hold)
		}
	}
}

// tap handles one card tap.
func (d *Dock) tap(tp cardreader.Tap, hold time.Duration) {
	officer, ok := d.set.Checkout.Cards[strings.ToUpper(tp.UID)]
	if !ok {
		d.p.Log.Warn("checkout: card not mapped to an officer (add it to checkout.cards)", "uid", tp.UID)
		d.Audit(wire.AuditCheckoutRefused, -1, "", 0, "card not mapped to an officer")
		return
	}
	best, bestPct := -1, -1
	for i, s := range d.slots {
		if ready, pct := s.Ready(); ready && pct > bestPct {
			best, bestPct = i, pct
		}
	}
	if best < 0 || !d.slots[best].Offer(officer, hold) {
		d.p.Log.Warn("checkout: no ready recorder to offer", "officer", officer)
		d.Audit(wire.AuditCheckoutRefused, -1, "", 0, "officer "+officer+": no ready recorder")
		return
	}
	d.p.Log.Info("checkout: recorder offered", "officer", officer, "slot", best, "battery_pct", bestPct)
}
