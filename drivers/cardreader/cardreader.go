// Package cardreader reads officers' card taps at the dock through an
// MFRC522 13.56 MHz reader on SPI, with periph.io's devices/v3/mfrc522
// driver. A dock has at most one, and works without it: a tap is how an
// officer checks out a ready recorder at shift start (the dock maps the
// card's UID to the officer in its configuration).
//
// Dev.Run waits for cards and sends one Tap per card presented: a card
// held on the reader, or presented again within Opts.Repeat, is one tap.
package cardreader

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/time/rate"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/devices/v3/mfrc522"
)

// Tap is one card presented to the reader.
type Tap struct {
	UID string // upper-case hex, 8 or 14 digits
	At  time.Time
}

// Opts configures a Dev; DefaultOpts documents the defaults.
type Opts struct {
	// Wait bounds one wait for a card, so Run notices its context ending.
	Wait time.Duration
	// Repeat: the same card read again within this long is the same tap.
	Repeat time.Duration
	// AntennaGain 0..7 (the chip's RxGain, 4 is the chip's default).
	AntennaGain int
	// Clock stamps taps; nil is the real clock.
	Clock clockwork.Clock
	// Log is for read errors (rate-limited); nil discards.
	Log *slog.Logger
}

// DefaultOpts: a 500 ms wait, 3 s between taps of one card, gain 4.
var DefaultOpts = Opts{Wait: 500 * time.Millisecond, Repeat: 3 * time.Second, AntennaGain: 4}

// ErrConfig reports bad options.
var ErrConfig = errors.New("cardreader: bad options")

// ErrNotFitted: the board file names a reader, but nothing on its SPI bus
// answers as one (periph's initialisation reads back what it set, and
// fails).
var ErrNotFitted = errors.New("cardreader: no reader answers")

// Dev is a card reader.
type Dev struct {
	o    Opts
	r    *mfrc522.Dev
	name string

	mu      sync.Mutex
	running bool
	halted  bool
	errLog  rate.Sometimes
}

// New initialises the MFRC522 on port with its reset and interrupt lines.
func New(port spi.Port, reset gpio.PinOut, irq gpio.PinIn, o *Opts) (*Dev, error) {
	opts := DefaultOpts
	if o != nil {
		opts = *o
		if opts.Wait <= 0 {
			opts.Wait = DefaultOpts.Wait
		}
		if opts.Repeat <= 0 {
			opts.Repeat = DefaultOpts.Repeat
		}
	}
	if opts.AntennaGain < 0 || opts.AntennaGain > 7 {
		return nil, fmt.Errorf("%w: antenna gain %d not in 0..7", ErrConfig, opts.AntennaGain)
	}
	if irq == nil {
		return nil, fmt.Errorf("%w: the reader needs its IRQ line", ErrConfig)
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	// periph's initialisation resets the chip and reads back what it set:
	// on a bus with no chip that fails.
	r, err := mfrc522.NewSPI(port, reset, irq, mfrc522.WithTimeout(opts.Wait))
	if err != nil {
		return nil, fmt.Errorf("%w on %s (is it fitted and wired as the board file says?): %w", ErrNotFitted, port, err)
	}
	if err := r.SetAntennaGain(opts.AntennaGain); err != nil {
		return nil, fmt.Errorf("cardreader: %w", err)
	}
	return &Dev{o: opts, r: r, name: "cardreader(" + r.String() + ")", errLog: rate.Sometimes{Interval: time.Minute}}, nil
}

// String implements conn.Resource.
func (d *Dev) String() string { return d.name }

// Run sends a Tap on taps for each card presented, until ctx ends (which
// is not an error). It is called once; Halt after it returned.
func (d *Dev) Run(ctx context.Context, taps chan<- Tap) error {
	d.mu.Lock()
	if d.running || d.halted {
		d.mu.Unlock()
		return errors.New("cardreader: Run called twice or after Halt")
	}
	d.running = true
	d.mu.Unlock()
	var last string
	var lastAt time.Time
	for ctx.Err() == nil {
		uid, err := d.r.ReadUID(d.o.Wait)
		now := d.o.Clock.Now()
		if err != nil {
			// A timeout (no card) or a card that left mid-read.
			if !strings.Contains(err.Error(), "timeout") {
				d.errLog.Do(func() { d.o.Log.Debug("card read failed", "reader", d.name, "err", err) })
			}
			continue
		}
		id := strings.ToUpper(hex.EncodeToString(uid))
		if id == last && now.Sub(lastAt) < d.o.Repeat {
			lastAt = now // still held on the reader
			continue
		}
		last, lastAt = id, now
		select {
		case taps <- Tap{UID: id, At: now}:
		case <-ctx.Done():
		}
	}
	return nil
}

// Halt powers the chip down (soft power-down). Call it once Run returned.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return nil
	}
	d.halted = true
	return d.r.Halt()
}

// ValidUID reports whether s is a card UID as Tap gives it.
func ValidUID(s string) bool {
	if len(s) != 8 && len(s) != 14 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

var _ conn.Resource = (*Dev)(nil)
