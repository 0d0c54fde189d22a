package board

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/drivers/cardreader"
)

const readerBoard = `board: sim-reader
kind: sim
leds: {type: apa102, spi: SPI0.0, pixels: 1}
card_reader: {spi: SPI0.1, reset: GPIO25, irq: GPIO24, gain: 5}
slots:
  - {name: A, charge: {pin: GPIO5}, presence: {pin: GPIO16}, led: {pixel: 0}, serial: {tcp: "127.0.0.1:1"}}
`

// TestCardReaderEntry: the board file's card_reader opens a reader (on the
// simulated board a fake chip a test can hold cards on); mistakes are
// reported by line and field; a board without one has none.
func TestCardReaderEntry(t *testing.T) {
	s, err := Parse("r.yaml", []byte(readerBoard))
	if err != nil {
		t.Fatal(err)
	}
	if c := s.CardReader; c == nil || c.SPI != "SPI0.1" || c.Reset.Name != "GPIO25" || c.IRQ.Name != "GPIO24" || c.Gain != 5 {
		t.Fatalf("card reader spec %+v", s.CardReader)
	}
	b, err := Open(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := b.CardReader()
	if r == nil {
		t.Fatal("no reader opened")
	}
	ctx, cancel := context.WithCancel(context.Background())
	taps := make(chan cardreader.Tap, 1)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, taps) }()
	if err := b.Sim().PresentCard([]byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	select {
	case tp := <-taps:
		if tp.UID != "01020304" {
			t.Errorf("tap %+v", tp)
		}
	case <-time.After(5 * time.Second):
		t.Error("no tap from the simulated reader")
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	if err := b.Halt(); err != nil {
		t.Error(err)
	}

	for _, tc := range []struct{ yaml, want string }{
		{strings.Replace(readerBoard, "irq: GPIO24", "irq: GPIO5", 1), "card_reader.irq"},
		{strings.Replace(readerBoard, "gain: 5", "gain: 9", 1), "card_reader.gain"},
		{strings.Replace(readerBoard, "spi: SPI0.1", "spi: SPI0.0", 1), "card_reader.spi"},
		{strings.Replace(readerBoard, "reset: GPIO25, ", "", 1), "card_reader.reset"},
	} {
		_, err := Parse("r.yaml", []byte(tc.yaml))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error on %s, got %v", tc.want, err)
		}
	}
	plain, err := Load("../../deploy/boards/sim-4slot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err = Open(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Halt()
	if b.CardReader() != nil || !errors.Is(b.Sim().PresentCard([]byte{1, 2, 3, 4}), ErrSimNoReader) {
		t.Error("a board without a card reader has one")
	}
}
