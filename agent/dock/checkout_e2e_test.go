package dock_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// TestCheckoutEndToEnd: on a dock with a card reader, an officer's card
// tap offers the ready recorder (its slot's LED shows it), taking it out
// reports the checkout, and the collector holds the assignment from that
// dock; an unknown card offers nothing.
func TestCheckoutEndToEnd(t *testing.T) {
	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rec, err := recsim.Generate(7, &recsim.GenOpts{Segments: 2, MinSize: 32 << 10, MaxSize: 64 << 10, Start: time.Now().Add(-3 * time.Hour)},
		&recsim.Config{Serial: "CO-" + randHex(3), Battery: docklink.Battery{MilliVolts: 4200, Percent: 100, HealthPercent: 95, Cycles: 20,
			TempDeciC: 250, Charge: docklink.ChargeFull}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := testworld.Start(context.Background(), testworld.Config{Dir: t.TempDir(), Log: log, Unit: "unit-co", Recorders: []*recsim.Recorder{rec},
		CardReader: true, Slot: slot.Config{StatusEvery: 50 * time.Millisecond},
		Dock: func(dc *dock.Config) {
			dc.Checkout.Cards = map[string]string{"DEADBEEF": "officer-77"}
			dc.Checkout.Hold = time.Minute
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := w.DockAll(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recorder ready", func() bool { return w.Sys.Dock.Status().Slots[0].State == wire.SlotReady })
	sim, hw := w.Sys.Board.Sim(), w.Sys.Board.Slots()[0]

	sim.PresentCard([]byte{1, 2, 3, 4}) // nobody's card
	time.Sleep(300 * time.Millisecond)
	if hw.Pattern() == slot.TakePattern {
		t.Fatal("an unknown card was offered a recorder")
	}
	sim.RemoveCard()
	sim.PresentCard([]byte{0xDE, 0xAD, 0xBE, 0xEF})
	waitFor(t, "the slot shows the recorder to take", func() bool { return hw.Pattern() == slot.TakePattern })
	sim.RemoveCard()
	if err := sim.Remove(0); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waitFor(t, "the collector holds the assignment", func() bool {
		as, err := w.Col.Store().Assignments(ctx, rec.Serial(), time.Time{}, time.Time{})
		return err == nil && len(as) == 1 && as[0].Officer == "officer-77" && as[0].Dock == w.DockCfg.Dock && as[0].Until.IsZero()
	})
}
