// Package led drives the dock's per-slot indicators.
//
// A Dev renders one named Pattern per slot (off, solid, blink, pulse,
// two-colour alternation) on an Output: discrete GPIO LEDs (GPIO) or an
// addressable strip through periph's apa102 or nrzled (WS2812) drivers
// (Strip). Time comes from an injected clock so tests drive every frame.
//
// Only patterns live here. Which pattern means "copying" or "fault" is the
// dock agent's decision.
package led

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3"
)

// ErrSlot is returned for a slot number outside the board.
var ErrSlot = errors.New("led: no such slot")

// ErrHalted is returned by SetPattern after Halt.
var ErrHalted = errors.New("led: halted")

// Opts configures a Dev.
type Opts struct {
	// Slots is the number of indicators; required.
	Slots int
	// Frame is the refresh period while any slot is animated.
	Frame time.Duration
	// Clock drives patterns; nil means the real clock.
	Clock clockwork.Clock
	// Logger receives output errors (at most one per second); nil discards.
	Logger *slog.Logger
}

// DefaultOpts refreshes at 50 Hz; set Slots.
var DefaultOpts = Opts{Frame: 20 * time.Millisecond}

// Dev renders the slots' patterns on an Output.
type Dev struct {
	out   Output
	opts  Opts
	clock clockwork.Clock
	log   *slog.Logger
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex // guards below and serialises out
	patterns []Pattern
	since    []time.Time
	shown    []Color
	showErr  error
	lastLog  time.Time
	halted   bool
}

var _ conn.Resource = (*Dev)(nil)

// New starts rendering on out; every slot starts off.
func New(out Output, opts *Opts) (*Dev, error) {
	if out == nil {
		return nil, errors.New("led: nil output")
	}
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	if o.Slots <= 0 {
		return nil, fmt.Errorf("led: Opts.Slots must be positive, got %d", o.Slots)
	}
	if o.Frame <= 0 {
		o.Frame = DefaultOpts.Frame
	}
	d := &Dev{
		out: out, opts: o, clock: o.Clock, log: o.Logger,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		patterns: make([]Pattern, o.Slots),
		since:    make([]time.Time, o.Slots),
		shown:    make([]Color, o.Slots),
	}
	if d.clock == nil {
		d.clock = clockwork.NewRealClock()
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if err := d.render(true); err != nil {
		return nil, err
	}
	go d.run()
	return d, nil
}

// String names the output.
func (d *Dev) String() string { return "led{" + d.out.String() + "}" }

// Slots returns the number of indicators.
func (d *Dev) Slots() int { return d.opts.Slots }

// SetPattern shows p on slot, starting now. The first frame is written
// before it returns, and its error (a failing LED line or strip) is returned.
func (d *Dev) SetPattern(slot int, p Pattern) error {
	if slot < 0 || slot >= d.opts.Slots {
		return fmt.Errorf("%w: %d (board has %d)", ErrSlot, slot, d.opts.Slots)
	}
	d.mu.Lock()
	if d.halted {
		d.mu.Unlock()
		return ErrHalted
	}
	d.patterns[slot] = p
	d.since[slot] = d.clock.Now()
	d.mu.Unlock()
	err := d.render(false)
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return err
}

// Pattern returns the pattern set on slot (Off for an unknown slot).
func (d *Dev) Pattern(slot int) Pattern {
	d.mu.Lock()
	defer d.mu.Unlock()
	if slot < 0 || slot >= len(d.patterns) {
		return Off()
	}
	return d.patterns[slot]
}

// Shown returns the colour last written for slot.
func (d *Dev) Shown(slot int) Color {
	d.mu.Lock()
	defer d.mu.Unlock()
	if slot < 0 || slot >= len(d.shown) {
		return Dark
	}
	return d.shown[slot]
}

// Err returns the last output error, nil once a frame went through again.
func (d *Dev) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.showErr
}

// Halt stops rendering, joins the render loop and turns every light off.
func (d *Dev) Halt() error {
	d.once.Do(func() { close(d.stop) })
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	d.halted = true
	clear(d.shown)
	return d.out.Halt()
}

func (d *Dev) run() {
	defer close(d.done)
	for {
		// Arm the frame timer before rendering so a clock step that lands
		// while rendering still wakes the next frame.
		var tick <-chan time.Time
		var t clockwork.Timer
		if d.animated() {
			t = d.clock.NewTimer(d.opts.Frame)
			tick = t.Chan()
		}
		_ = d.render(false) // errors are kept in showErr and logged
		select {
		case <-d.stop:
		case <-d.wake:
		case <-tick:
		}
		if t != nil {
			t.Stop()
		}
		select {
		case <-d.stop:
			return
		default:
		}
	}
}

func (d *Dev) animated() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.patterns {
		if p.animated() {
			return true
		}
	}
	return false
}

// render computes every slot's colour now and writes the frame when it
// differs from what is shown (or always when force is set).
func (d *Dev) render(force bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return ErrHalted
	}
	now := d.clock.Now()
	frame := make([]Color, len(d.patterns))
	changed := force || d.showErr != nil
	for i, p := range d.patterns {
		frame[i] = p.At(now.Sub(d.since[i]))
		if frame[i] != d.shown[i] {
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := d.out.Show(frame); err != nil {
		d.showErr = err
		if now.Sub(d.lastLog) >= time.Second {
			d.lastLog = now
			d.log.Warn("led: output failed", "output", d.out.String(), "err", err)
		}
		return err
	}
	d.showErr = nil
	copy(d.shown, frame)
	return nil
}
