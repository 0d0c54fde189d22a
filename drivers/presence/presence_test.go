package presence

import (
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

const (
	settle = 50 * time.Millisecond
	poll   = 500 * time.Millisecond
)

// rig is a presence Dev on a gpiotest pin whose waits run on a fake clock.
type rig struct {
	pin *gpiotest.Pin
	fc  *clockwork.FakeClock
	dev *Dev
}

func newRig(t *testing.T, start gpio.Level, active gpio.Level) *rig {
	t.Helper()
	fc := clockwork.NewFakeClock()
	pin := &gpiotest.Pin{N: "GPIO17", L: start, Clock: fc, EdgesChan: make(chan gpio.Level, 32)}
	opts := DefaultOpts
	opts.ActiveLevel = active
	opts.Pull = gpio.PullNoChange // keep the level the test set
	opts.Clock = fc
	d, err := New(pin, &opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{pin: pin, fc: fc, dev: d}
	t.Cleanup(func() { r.halt(t) })
	return r
}

// halt stops the Dev, advancing the fake clock so a pending wait ends.
func (r *rig) halt(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.dev.Halt() }()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
			return
		case <-time.After(time.Millisecond):
			r.fc.Advance(poll)
		case <-deadline:
			t.Fatal("Halt did not return")
		}
	}
}

// next returns the next event, advancing the fake clock by settle steps
// until one arrives.
func (r *rig) next(t *testing.T) Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-r.dev.Events():
			if !ok {
				t.Fatal("events closed")
			}
			return ev
		case <-time.After(time.Millisecond):
			r.fc.Advance(settle)
		case <-deadline:
			t.Fatal("no event")
		}
	}
}

// until advances the fake clock until cond holds.
func (r *rig) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-time.After(time.Millisecond):
			r.fc.Advance(settle)
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (r *rig) noEvent(t *testing.T) {
	t.Helper()
	select {
	case ev := <-r.dev.Events():
		t.Fatalf("unexpected event %v", ev)
	default:
	}
}

func (r *rig) edges(levels ...gpio.Level) {
	for _, l := range levels {
		r.pin.EdgesChan <- l
	}
}

func TestInitialState(t *testing.T) {
	for _, tc := range []struct {
		name          string
		start, active gpio.Level
		present       bool
	}{
		{"active low, switch closed", gpio.Low, gpio.Low, true},
		{"active low, switch open", gpio.High, gpio.Low, false},
		{"active high, switch closed", gpio.High, gpio.High, true},
		{"active high, switch open", gpio.Low, gpio.High, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.start, tc.active)
			ev := r.next(t)
			if !ev.Initial || ev.Present != tc.present {
				t.Fatalf("first event %+v, want initial present=%v", ev, tc.present)
			}
			if r.dev.Present() != tc.present {
				t.Fatalf("Present() = %v", r.dev.Present())
			}
		})
	}
}

// A contact that bounces five times on insertion and four on removal gives
// exactly one event each way.
func TestBounce(t *testing.T) {
	r := newRig(t, gpio.High, gpio.Low)
	if ev := r.next(t); ev.Present {
		t.Fatalf("initial %+v", ev)
	}
	r.edges(gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low)
	if ev := r.next(t); !ev.Present || ev.Initial {
		t.Fatalf("after insertion bounce: %+v, want inserted", ev)
	}
	r.edges(gpio.High, gpio.Low, gpio.High, gpio.High)
	if ev := r.next(t); ev.Present {
		t.Fatalf("after removal bounce: %+v, want removed", ev)
	}
	r.noEvent(t)
	if s := r.dev.Stats(); s.Edges != 9 || s.Events != 3 || s.Spurious != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A glitch that returns to the stable level (ESD, a knock on the dock) is
// not an event.
func TestSpuriousEdge(t *testing.T) {
	r := newRig(t, gpio.High, gpio.Low)
	r.next(t)
	r.edges(gpio.Low, gpio.High)
	r.until(t, "spurious count", func() bool { return r.dev.Stats().Spurious == 1 })
	r.noEvent(t)
	if r.dev.Present() {
		t.Fatal("glitch counted as presence")
	}
	// The next real insertion still gets through.
	r.edges(gpio.Low)
	if ev := r.next(t); !ev.Present {
		t.Fatalf("%+v, want inserted", ev)
	}
}

// An edge the driver never saw (lost interrupt) is caught by re-reading the
// level when WaitForEdge times out.
func TestMissedEdge(t *testing.T) {
	r := newRig(t, gpio.High, gpio.Low)
	r.next(t)
	r.pin.Lock()
	r.pin.L = gpio.Low
	r.pin.Unlock()
	if ev := r.next(t); !ev.Present {
		t.Fatalf("%+v, want inserted", ev)
	}
}

// A recorder pulled out while the slot is being powered on: the removal
// still arrives as an ordinary event after the insertion.
func TestRemovalRightAfterInsertion(t *testing.T) {
	r := newRig(t, gpio.High, gpio.Low)
	r.next(t)
	r.edges(gpio.Low)
	if ev := r.next(t); !ev.Present {
		t.Fatalf("%+v", ev)
	}
	r.edges(gpio.High, gpio.Low, gpio.High)
	if ev := r.next(t); ev.Present {
		t.Fatalf("%+v, want removed", ev)
	}
}

// Halt returns even when nobody reads the events, and closes the channel.
func TestHaltWithBlockedConsumer(t *testing.T) {
	r := newRig(t, gpio.High, gpio.Low)
	for i := 0; i < 8; i++ { // the 8th change finds the buffer full
		l := gpio.Low
		if i%2 == 1 {
			l = gpio.High
		}
		r.edges(l)
		r.until(t, "change", func() bool { return r.dev.Present() == (l == gpio.Low) })
	}
	r.halt(t)
	n := 0
	for range r.dev.Events() {
		n++
	}
	if n != 8 {
		t.Fatalf("drained %d events, want the 8 buffered ones", n)
	}
}

func TestNewFailsOnEdgelessPin(t *testing.T) {
	// gpiotest refuses edges without an EdgesChan, like a line that cannot
	// deliver interrupts.
	if _, err := New(&gpiotest.Pin{N: "GPIO4"}, nil); err == nil {
		t.Fatal("New succeeded on a pin without edge support")
	}
}

// cdevPin refuses what the GPIO character device gets wrong: a WaitForEdge
// without a finite, positive timeout (gpioioctl returns at once for -1 and
// blocks forever for 0).
type cdevPin struct {
	*gpiotest.Pin
	t *testing.T
}

func (p cdevPin) WaitForEdge(timeout time.Duration) bool {
	if timeout <= 0 {
		p.t.Errorf("WaitForEdge(%v): the cdev driver needs a finite positive timeout", timeout)
		return false
	}
	return p.Pin.WaitForEdge(timeout)
}

func TestFiniteTimeouts(t *testing.T) {
	fc := clockwork.NewFakeClock()
	pin := &gpiotest.Pin{N: "GPIO17", L: gpio.High, Clock: fc, EdgesChan: make(chan gpio.Level, 8)}
	opts := DefaultOpts
	opts.Pull = gpio.PullNoChange
	d, err := New(cdevPin{pin, t}, &opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{pin: pin, fc: fc, dev: d}
	r.next(t)
	r.edges(gpio.Low, gpio.High, gpio.Low)
	if ev := r.next(t); !ev.Present {
		t.Fatalf("%+v", ev)
	}
	r.halt(t)
}

// A contact that chatters longer than MaxBounce edges (a broken spring, a
// noisy cable) does not stall the watcher: after MaxBounce edges it reads
// the level anyway, and the state the line finally settles in is reported.
func TestChatterBeyondMaxBounce(t *testing.T) {
	fc := clockwork.NewFakeClock()
	pin := &gpiotest.Pin{N: "GPIO17", L: gpio.High, Clock: fc, EdgesChan: make(chan gpio.Level, 16)}
	opts := DefaultOpts
	opts.Pull = gpio.PullNoChange
	opts.Clock = fc
	opts.MaxBounce = 3
	d, err := New(pin, &opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{pin: pin, fc: fc, dev: d}
	t.Cleanup(func() { r.halt(t) })
	if ev := r.next(t); !ev.Initial || ev.Present {
		t.Fatalf("initial %+v", ev)
	}
	// Seven edges, all queued at once: the first debounce gives up after
	// three more and reads High (the stable level, so spurious); the second
	// takes the rest and settles Low.
	r.edges(gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low)
	if ev := r.next(t); !ev.Present || ev.Initial {
		t.Fatalf("after chatter: %+v, want inserted", ev)
	}
	r.noEvent(t)
	if s := d.Stats(); s.Edges != 7 || s.Spurious != 1 || s.Events != 2 {
		t.Fatalf("stats %+v, want 7 edges, 1 spurious, 2 events", s)
	}
}
