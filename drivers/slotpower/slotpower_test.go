package slotpower

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
)

func level(p *gpiotest.Pin) gpio.Level {
	p.Lock()
	defer p.Unlock()
	return p.L
}

func TestSet(t *testing.T) {
	for _, tc := range []struct {
		name      string
		activeLow bool
		on, off   gpio.Level
	}{
		{"active high", false, gpio.High, gpio.Low},
		{"active low", true, gpio.Low, gpio.High},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &gpiotest.Pin{N: "GPIO5", L: tc.on} // left "on" by a previous process
			d, err := New(p, &Opts{ActiveLow: tc.activeLow})
			if err != nil {
				t.Fatal(err)
			}
			if level(p) != tc.off || d.On() {
				t.Fatalf("after New: pin %v on=%v, want off", level(p), d.On())
			}
			if err := d.Set(true); err != nil {
				t.Fatal(err)
			}
			if level(p) != tc.on || !d.On() {
				t.Fatalf("after Set(true): pin %v on=%v", level(p), d.On())
			}
			if err := d.Halt(); err != nil {
				t.Fatal(err)
			}
			if level(p) != tc.off || d.On() {
				t.Fatalf("after Halt: pin %v on=%v", level(p), d.On())
			}
			if err := d.Set(true); !errors.Is(err, ErrHalted) {
				t.Fatalf("Set after Halt = %v, want ErrHalted", err)
			}
		})
	}
}

// readTrap fails the test if anyone reads the output back.
type readTrap struct {
	gpiotest.Pin
	t *testing.T
}

func (r *readTrap) Read() gpio.Level {
	r.t.Error("output pin was read back")
	return gpio.Low
}

func TestNeverReadsOutput(t *testing.T) {
	p := &readTrap{Pin: gpiotest.Pin{N: "GPIO6"}, t: t}
	d, err := New(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{true, false, true} {
		if err := d.Set(on); err != nil {
			t.Fatal(err)
		}
		if d.On() != on {
			t.Fatalf("On() = %v, want %v", d.On(), on)
		}
	}
}

// failPin refuses Out, like a line held by another process.
type failPin struct{ gpiotest.Pin }

func (f *failPin) Out(gpio.Level) error                  { return errors.New("device or resource busy") }
func (f *failPin) PWM(gpio.Duty, physic.Frequency) error { return nil }

func TestPinFailure(t *testing.T) {
	if _, err := New(&failPin{}, nil); !errors.Is(err, ErrPin) {
		t.Fatalf("New = %v, want ErrPin", err)
	}
}

func TestPowerCycle(t *testing.T) {
	fc := clockwork.NewFakeClock()
	p := &gpiotest.Pin{N: "GPIO5"}
	d, err := New(p, &Opts{Settle: 3 * time.Second, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.PowerCycle(ctx) }()
	if err := fc.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if d.On() || level(p) != gpio.Low {
		t.Fatal("slot still powered during the settle time")
	}
	fc.Advance(2 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("PowerCycle returned %v before the settle time", err)
	default:
	}
	fc.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !d.On() || level(p) != gpio.High {
		t.Fatal("slot not powered after the power cycle")
	}
}

// A recorder pulled out while its slot is being powered back on: the agent
// cancels the cycle and the slot must stay off.
func TestPowerCycleRemovedDuringPowerOn(t *testing.T) {
	fc := clockwork.NewFakeClock()
	p := &gpiotest.Pin{N: "GPIO5"}
	d, err := New(p, &Opts{Settle: time.Second, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.PowerCycle(ctx) }()
	if err := fc.BlockUntilContext(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel() // presence reported removal
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("PowerCycle = %v, want context.Canceled", err)
	}
	fc.Advance(time.Minute)
	if d.On() || level(p) != gpio.Low {
		t.Fatal("slot powered after an aborted power cycle")
	}
}

// dockd stops while a slot is in the middle of a power cycle: Halt cuts
// the charge, and the end of the settle time must not switch it back on.
func TestHaltDuringPowerCycle(t *testing.T) {
	fc := clockwork.NewFakeClock()
	p := &gpiotest.Pin{N: "GPIO5"}
	d, err := New(p, &Opts{Settle: time.Second, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.PowerCycle(context.Background()) }()
	if err := fc.BlockUntilContext(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	fc.Advance(time.Second)
	if err := <-done; !errors.Is(err, ErrHalted) {
		t.Fatalf("PowerCycle = %v, want ErrHalted", err)
	}
	if d.On() || level(p) != gpio.Low {
		t.Fatal("halted slot powered at the end of its power cycle")
	}
}
