package cardreader_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berthdock/berth/drivers/cardreader"
	"github.com/berthdock/berth/drivers/cardreader/cardreadertest"
)

func start(t *testing.T, chip *cardreadertest.Chip, repeat time.Duration) (<-chan cardreader.Tap, *cardreader.Dev) {
	t.Helper()
	d, err := cardreader.New(chip, chip.Reset, chip.IRQ, &cardreader.Opts{Wait: 30 * time.Millisecond, Repeat: repeat, AntennaGain: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	taps := make(chan cardreader.Tap, 8)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, taps) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := d.Halt(); err != nil {
			t.Errorf("Halt: %v", err)
		}
	})
	return taps, d
}

func next(t *testing.T, taps <-chan cardreader.Tap) cardreader.Tap {
	t.Helper()
	select {
	case tp := <-taps:
		return tp
	case <-time.After(5 * time.Second):
		t.Fatal("no tap")
	}
	return cardreader.Tap{}
}

// TestTaps: a card's UID (4 and 7 bytes) comes out as one tap however long
// the card is held; the same card presented again after Repeat is a new tap.
func TestTaps(t *testing.T) {
	chip := cardreadertest.New()
	taps, d := start(t, chip, 300*time.Millisecond)
	if d.String() == "" {
		t.Error("no name")
	}
	chip.Present([]byte{0xDE, 0xAD, 0xBE, 0xEF})
	if tp := next(t, taps); tp.UID != "DEADBEEF" || !cardreader.ValidUID(tp.UID) {
		t.Fatalf("tap %+v", tp)
	}
	time.Sleep(200 * time.Millisecond) // held: read again, not a new tap
	chip.Remove()
	select {
	case tp := <-taps:
		t.Fatalf("a held card tapped twice: %+v", tp)
	default:
	}
	chip.Present([]byte{0x04, 0x52, 0x13, 0x9A, 0x7F, 0x61, 0x80})
	if tp := next(t, taps); tp.UID != "0452139A7F6180" || !cardreader.ValidUID(tp.UID) {
		t.Fatalf("7-byte tap %+v", tp)
	}
	chip.Remove()
	time.Sleep(350 * time.Millisecond)
	chip.Present([]byte{0xDE, 0xAD, 0xBE, 0xEF})
	if tp := next(t, taps); tp.UID != "DEADBEEF" {
		t.Fatalf("second tap %+v", tp)
	}
}

func TestNoCardNoTap(t *testing.T) {
	chip := cardreadertest.New()
	taps, _ := start(t, chip, time.Second)
	time.Sleep(150 * time.Millisecond)
	select {
	case tp := <-taps:
		t.Fatalf("tap without a card: %+v", tp)
	default:
	}
}

func TestBadOptions(t *testing.T) {
	chip := cardreadertest.New()
	if _, err := cardreader.New(chip, chip.Reset, chip.IRQ, &cardreader.Opts{AntennaGain: 9}); err == nil {
		t.Error("gain 9 accepted")
	}
	if _, err := cardreader.New(cardreadertest.New(), chip.Reset, nil, nil); err == nil {
		t.Error("no IRQ line accepted")
	}
	unfit := cardreadertest.New()
	unfit.Unfit()
	if _, err := cardreader.New(unfit, unfit.Reset, unfit.IRQ, nil); !errors.Is(err, cardreader.ErrNotFitted) {
		t.Errorf("a bus with no reader on it: %v, want ErrNotFitted", err)
	}
	for _, s := range []string{"", "deadbeef", "DEADBEE", "DEADBEEFX", "0452139A7F618"} {
		if cardreader.ValidUID(s) {
			t.Errorf("ValidUID(%q)", s)
		}
	}
}
