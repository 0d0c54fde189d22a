// Package slotpower drives the charge-enable line of one dock slot.
//
// The commanded state is kept in software and never read back from the pin:
// on the Linux GPIO character device (periph's gpioioctl) Read() on an output
// line silently reconfigures it as an input with a pull-up, which would cut
// or feed charge behind the agent's back (periph/conn#48).
//
// The dock agent owns the policy (power on presence, cut on over-current);
// this package only switches the line, and power-cycles with a settle delay.
package slotpower

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
)

// ErrHalted is returned by Set and PowerCycle after Halt.
var ErrHalted = errors.New("slotpower: halted")

// ErrPin wraps a failure to drive the charge-enable line.
var ErrPin = errors.New("slotpower: cannot drive charge-enable line")

// Opts configures a Dev.
type Opts struct {
	// ActiveLow inverts the line: charge is enabled when the pin is Low
	// (typical for P-channel high-side switches).
	ActiveLow bool
	// Settle is how long PowerCycle keeps the slot off before switching it
	// back on, so the recorder's power rail fully discharges.
	Settle time.Duration
	// Clock is used for the settle delay; nil means the real clock.
	Clock clockwork.Clock
}

// DefaultOpts is an active-high line with a 2 s power-cycle settle time.
var DefaultOpts = Opts{Settle: 2 * time.Second}

// Dev is the charge-enable switch of one slot.
type Dev struct {
	pin   gpio.PinOut
	opts  Opts
	clock clockwork.Clock

	mu     sync.Mutex
	on     bool
	halted bool
}

var _ conn.Resource = (*Dev)(nil)

// New takes the pin and drives it to "off" before returning, so a slot is
// never powered by a line left floating or high by a previous process.
func New(pin gpio.PinOut, opts *Opts) (*Dev, error) {
	if pin == nil {
		return nil, fmt.Errorf("%w: nil pin", ErrPin)
	}
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	if o.Settle <= 0 {
		o.Settle = DefaultOpts.Settle
	}
	d := &Dev{pin: pin, opts: o, clock: o.Clock}
	if d.clock == nil {
		d.clock = clockwork.NewRealClock()
	}
	if err := d.write(false); err != nil {
		return nil, err
	}
	return d, nil
}

// String names the device and its pin.
func (d *Dev) String() string {
	return fmt.Sprintf("slotpower{%s}", d.pin)
}

// Set switches charge on or off. The state is recorded only once the pin
// accepted it.
func (d *Dev) Set(on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return ErrHalted
	}
	return d.write(on)
}

// On reports the commanded state (never read back from the pin).
func (d *Dev) On() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.on
}

// PowerCycle switches the slot off, waits the settle time and switches it
// back on. If ctx ends during the wait (the recorder was removed, the agent
// is stopping) the slot is left off and ctx's error is returned: an empty
// slot must not end up powered.
func (d *Dev) PowerCycle(ctx context.Context) error {
	if err := d.Set(false); err != nil {
		return err
	}
	t := d.clock.NewTimer(d.opts.Settle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Chan():
	}
	return d.Set(true)
}

// Halt switches charge off and refuses further commands.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.halted = true
	return d.write(false)
}

// write drives the line; d.mu must be held (or d not yet shared).
func (d *Dev) write(on bool) error {
	level := gpio.Level(on)
	if d.opts.ActiveLow {
		level = !level
	}
	if err := d.pin.Out(level); err != nil {
		return fmt.Errorf("%w %s: %w", ErrPin, d.pin, err)
	}
	d.on = on
	return nil
}
