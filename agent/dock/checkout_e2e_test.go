package dock_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/board"
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

// TestCheckoutSurvivesDockRestart: a card tap offers the ready recorder,
// then the dock stops before the officer takes it and starts again on the
// same data directory (buffer, outbox, audit log) with the recorder still
// in its slot, as dockd after a crash and systemd's restart. The offer is
// taken up again: the slot shows it once the same recorder is identified
// and ready, taking it out reports the checkout naming the officer and the
// original tap, and the collector holds the assignment, still open,
// within one docking (the session after the restart continued it, so the
// recorder is not seen docked again after the tap).
func TestCheckoutSurvivesDockRestart(t *testing.T) {
	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rec, err := recsim.Generate(8, &recsim.GenOpts{Segments: 2, MinSize: 32 << 10, MaxSize: 64 << 10, Start: time.Now().Add(-3 * time.Hour)},
		&recsim.Config{Serial: "COR-" + randHex(3), Battery: docklink.Battery{MilliVolts: 4200, Percent: 100, HealthPercent: 95, Cycles: 20,
			TempDeciC: 250, Charge: docklink.ChargeFull}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := testworld.Start(context.Background(), testworld.Config{Dir: t.TempDir(), Log: log, Unit: "unit-co", Recorders: []*recsim.Recorder{rec},
		NoDock: true, Dock: func(dc *dock.Config) {
			dc.Checkout.Cards = map[string]string{"DEADBEEF": "officer-78"}
			dc.Checkout.Hold = 2 * time.Minute
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	// start runs a dock on w's files and a new simulated board with a
	// card reader whose slot holds the recorder from the start (its
	// pulled-up presence pin reads present, as a dock finds its slots
	// after a restart); stop ends its Run and closes what it opened.
	start := func() (sys *dock.System, stop func()) {
		spec, err := board.NewSimSpec("restart", 1)
		if err != nil {
			t.Fatal(err)
		}
		spec.Slots[0].Presence.ActiveHigh = true
		spec.CardReader = &board.CardReaderSpec{SPI: "SIM_SPI_CARD", Reset: board.Pin{Name: "SIM_CARD_RST"},
			IRQ: board.Pin{Name: "SIM_CARD_IRQ"}, Gain: 4}
		b, err := board.Open(spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Sim().SetLink(0, w.Recs.Addr(0)); err != nil {
			b.Halt()
			t.Fatal(err)
		}
		sys, err = dock.Open(w.DockCfg, dock.OpenOpts{Version: "e2e", Log: log.With("side", "dock"), Board: b, Token: w.Token,
			Slot: slot.Config{StatusEvery: 50 * time.Millisecond}})
		if err != nil {
			b.Halt()
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- sys.Dock.Run(ctx) }()
		var once sync.Once
		stop = func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("dock: %v", err)
				}
				if err := sys.Close(); err != nil {
					t.Errorf("dock close: %v", err)
				}
			})
		}
		t.Cleanup(stop)
		return sys, stop
	}

	sys, stop := start()
	waitFor(t, "recorder ready", func() bool { return sys.Dock.Status().Slots[0].State == wire.SlotReady })
	hw := sys.Board.Slots()[0]
	tap := time.Now()
	sys.Board.Sim().PresentCard([]byte{0xDE, 0xAD, 0xBE, 0xEF})
	waitFor(t, "the slot shows the recorder to take", func() bool { return hw.Pattern() == slot.TakePattern })
	sys.Board.Sim().RemoveCard()
	stop()

	sys, _ = start()
	hw = sys.Board.Slots()[0]
	waitFor(t, "the slot shows the recorder to take after the restart", func() bool {
		return sys.Dock.Status().Slots[0].State == wire.SlotReady && hw.Pattern() == slot.TakePattern
	})
	// dockctl status shows the standing offer (the local API's slot).
	if o := sys.Dock.Status().Slots[0].Offer; o == nil || o.Officer != "officer-78" || o.Serial != rec.Serial() || o.Restored ||
		o.Since.Before(tap.Add(-time.Second)) || !o.Expires.Equal(o.Since.Add(2*time.Minute)) {
		t.Errorf("the local API's offer: %+v", o)
	}
	if err := sys.Board.Sim().Remove(0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the offer ends when the recorder is taken", func() bool { return sys.Dock.Status().Slots[0].Offer == nil })
	ctx := context.Background()
	var as []store.Assignment
	waitFor(t, "the collector holds the assignment", func() bool {
		as, err = w.Col.Store().Assignments(ctx, rec.Serial(), time.Time{}, time.Time{})
		return err == nil && len(as) == 1
	})
	if a := as[0]; a.Officer != "officer-78" || a.Dock != w.DockCfg.Dock || a.Slot != 0 || !a.Until.IsZero() ||
		a.From.Before(tap.Add(-time.Second)) || a.From.After(tap.Add(5*time.Second)) {
		t.Errorf("assignment %+v (tapped at %s)", a, tap.UTC())
	}
	hist, err := w.Col.Store().DeviceHealth(ctx, rec.Serial(), time.Time{}, time.Time{})
	if err != nil || len(hist) != 1 {
		t.Errorf("%d health snapshots (%v): the restart made a second docking", len(hist), err)
	}
}
