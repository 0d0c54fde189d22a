package slot

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/presence"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// offerStore keeps offers as the buffer does (KeepOffer, Offer,
// ForgetOffer), in memory: it outlives the slots of a test, as the buffer
// outlives a dockd restart.
type offerStore struct {
	mu sync.Mutex
	m  map[int]buffer.Offer
}

func (o *offerStore) KeepOffer(of buffer.Offer) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m[of.Slot] = of
	return nil
}

func (o *offerStore) Offer(slot int) (buffer.Offer, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	of, ok := o.m[slot]
	return of, ok, nil
}

func (o *offerStore) ForgetOffer(slot int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.m, slot)
	return nil
}

func (o *offerStore) get(slot int) (buffer.Offer, bool) {
	of, ok, _ := o.Offer(slot)
	return of, ok
}

// restart stops r's slot as a crash would (its Run ends; nothing is
// withdrawn) and runs a new slot on the same recorder, buffer and kept
// offers, with fresh reports and LEDs: dockd started again.
func (r *rig) restart(t *testing.T, offers OfferKeeper) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.hw.wg.Wait()
	keys := docklink.Keys{"REC-0001": r.rec.PublicKey()}
	r.rep, r.hw, r.events = &reports{}, &hw{rec: r.rec}, make(chan presence.Event)
	r.slot = New(Config{Index: 2, Dock: "dock-1", Keys: keys, StatusEvery: 20 * time.Millisecond, ChargedPct: 80, Offers: offers},
		r.hw, &power{}, r.buf, r.buf, r.rep, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	t.Cleanup(cancel) // before newRigWith's, which waits for r.done
	go func() { r.done <- r.slot.Run(ctx, r.events) }()
}

func (r *rig) checkouts() ([]wire.Checkout, []string) {
	r.rep.mu.Lock()
	defer r.rep.mu.Unlock()
	return slices.Clone(r.rep.checkouts), slices.Clone(r.rep.audits)
}

// TestCheckoutOfferSurvivesRestart: an offer is kept while it stands and
// taken up again after a restart. Found again with its recorder, the slot
// shows it once the same recorder is identified and ready, and taking it
// reports the checkout with the officer and the original tap; found empty,
// the recorder was taken while dockd was down, which is the officer's
// checkout too; an offer that lapsed while dockd was down, or whose slot
// now holds another recorder, reports none. Every ended offer is
// forgotten.
func TestCheckoutOfferSurvivesRestart(t *testing.T) {
	cases := []struct {
		name     string
		present  bool          // the recorder is in the slot at the restart
		down     time.Duration // how long the offer stood before the restart ended (hold is a minute)
		serial   string        // the kept offer's recorder ("": the one offered)
		checkout bool
		audit    string
	}{
		{name: "present", present: true, checkout: true, audit: wire.AuditCheckout},
		{name: "taken while down", present: false, checkout: true, audit: wire.AuditCheckout},
		{name: "lapsed while down", present: true, down: 2 * time.Minute, audit: wire.AuditCheckoutLapsed},
		{name: "another recorder", present: true, serial: "REC-0002", audit: wire.AuditCheckoutLapsed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			offers := &offerStore{m: map[int]buffer.Offer{}}
			r := newRigWith(t, true, func(c *Config) { c.ChargedPct, c.Offers = 80, offers }, nil)
			r.rec.AddRandom(1, 1000, 1, t0)
			r.dock(true)
			r.waitState(t, wire.SlotReady)
			tap := time.Now()
			if !r.slot.Offer("o-7", time.Minute) {
				t.Fatal("a ready recorder was not offered")
			}
			kept, ok := offers.get(2)
			if !ok || kept.Officer != "o-7" || kept.Serial != "REC-0001" || kept.Slot != 2 {
				t.Fatalf("offer kept as %+v (%v)", kept, ok)
			}
			if tc.down > 0 || tc.serial != "" {
				kept.At, kept.Until = kept.At.Add(-tc.down), kept.Until.Add(-tc.down)
				if tc.serial != "" {
					kept.Serial = tc.serial
				}
				offers.KeepOffer(kept)
			}

			r.rep.mu.Lock()
			firstAt := r.rep.health[0].DockedAt
			r.rep.mu.Unlock()
			r.restart(t, offers)
			r.events <- presence.Event{Present: tc.present, Initial: true, At: time.Now()}
			if tc.present {
				if tc.audit == wire.AuditCheckout {
					if of, ok := r.slot.Offered(); !ok || !of.Restored || of.Officer != "o-7" {
						t.Errorf("standing offer right after the restart: %+v %v", of, ok)
					}
					r.waitState(t, wire.SlotReady)
					if p := r.hw.lastPattern(); p != TakePattern {
						t.Errorf("LED %s once ready again, want %s", p, TakePattern)
					}
					if of, ok := r.slot.Offered(); !ok || of.Restored || !of.At.Equal(kept.At) {
						t.Errorf("standing offer once shown: %+v %v", of, ok)
					}
					if ok, _ := r.slot.Ready(); ok {
						t.Error("an offered recorder is ready to offer to another officer")
					}
				} else {
					r.waitState(t, wire.SlotReady)
					if tc.down > 0 {
						// ExpireOffer is the dock's ticker; the restore already lapsed it.
						r.slot.ExpireOffer(time.Now())
					}
					if p := r.hw.lastPattern(); p == TakePattern {
						t.Error("a withdrawn offer shows on the LED")
					}
					if _, ok := r.slot.Offered(); ok {
						t.Error("a withdrawn offer still stands")
					}
				}
				r.dock(false)
				r.waitState(t, wire.SlotEmpty)
			} else {
				deadline := time.Now().Add(5 * time.Second)
				for {
					if cos, _ := r.checkouts(); len(cos) > 0 || time.Now().After(deadline) {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			cos, audits := r.checkouts()
			// The session after the restart continues the docking the
			// offer was made in when it finds the same recorder: the
			// collector must not see it docked again after the tap.
			r.rep.mu.Lock()
			health := slices.Clone(r.rep.health)
			r.rep.mu.Unlock()
			if tc.present {
				if len(health) == 0 {
					t.Fatal("no health snapshot after the restart")
				}
				// Only a standing offer for this very recorder carries its
				// docking across the restart.
				if same, want := health[0].DockedAt.Equal(firstAt), tc.checkout; same != want {
					t.Errorf("docked at %s after the restart, %s before (want the same: %v)", health[0].DockedAt, firstAt, want)
				}
			}
			if tc.checkout {
				if len(cos) != 1 || cos[0].Officer != "o-7" || cos[0].Serial != "REC-0001" || cos[0].Slot != 2 ||
					!cos[0].At.Equal(kept.At.UTC()) || cos[0].At.Before(tap.Add(-time.Second)) {
					t.Fatalf("checkouts %+v", cos)
				}
			} else if len(cos) != 0 {
				t.Fatalf("checkouts %+v", cos)
			}
			if !slices.Contains(audits, tc.audit) {
				t.Errorf("audits %v, want %s", audits, tc.audit)
			}
			if of, ok := offers.get(2); ok {
				t.Errorf("an ended offer is still kept: %+v", of)
			}
		})
	}
}
