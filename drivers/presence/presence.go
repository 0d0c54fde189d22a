// Package presence turns a slot's presence switch into debounced
// insert/remove events.
//
// The pin is configured for both edges. The loop calls WaitForEdge with a
// finite timeout (never -1: periph's GPIO character-device driver treats -1
// as "return at once" and 0 as "forever", unlike the other drivers,
// periph/host#78), so a stop request is always noticed and a missed edge is
// caught by re-reading the level on every timeout. After an edge the loop
// waits until the line has been quiet for the settle time, then re-reads the
// level; an event is sent only when that level differs from the last stable
// one, so contact bounce and spurious edges produce nothing.
//
// Removing a recorder is normal, not an error: it is an Event with
// Present false.
package presence

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
)

// ErrPin wraps a failure to configure the presence input.
var ErrPin = errors.New("presence: cannot configure presence input")

// Event is a debounced change of a slot's presence.
type Event struct {
	Present bool      // a recorder sits in the slot
	Initial bool      // the state found at start, not a change
	At      time.Time // when the level was confirmed stable
}

func (e Event) String() string {
	s := "removed"
	if e.Present {
		s = "inserted"
	}
	if e.Initial {
		s = "initially " + map[bool]string{true: "present", false: "empty"}[e.Present]
	}
	return s
}

// Opts configures a Dev. Start from DefaultOpts and change what differs.
type Opts struct {
	// ActiveLevel is the level that means "a recorder is present".
	ActiveLevel gpio.Level
	// Pull is the input's bias; PullNoChange leaves it as the board set it.
	Pull gpio.Pull
	// Settle is how long the line must stay quiet before its level counts.
	Settle time.Duration
	// Poll bounds each WaitForEdge; on timeout the level is re-read anyway.
	// It also bounds how long Halt may wait on drivers that cannot be
	// interrupted.
	Poll time.Duration
	// MaxBounce is how many edges one debounce absorbs before it reads the
	// level anyway (a line that never settles must not stall the loop).
	MaxBounce int
	// Clock stamps events; nil means the real clock. The waits themselves
	// are the pin's (gpiotest.Pin has its own Clock).
	Clock clockwork.Clock
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// DefaultOpts fits a switch to ground with the SoC's pull-up: present when
// Low, 50 ms of settle, a 500 ms poll.
var DefaultOpts = Opts{
	ActiveLevel: gpio.Low,
	Pull:        gpio.PullUp,
	Settle:      50 * time.Millisecond,
	Poll:        500 * time.Millisecond,
	MaxBounce:   64,
}

// Stats counts what the debouncer absorbed.
type Stats struct {
	Edges    uint64 // edges seen
	Spurious uint64 // debounces that ended at the previous stable level
	Events   uint64 // events sent (including the initial one)
}

// Dev watches one presence input.
type Dev struct {
	pin    gpio.PinIn
	opts   Opts
	clock  clockwork.Clock
	log    *slog.Logger
	events chan Event
	stop   chan struct{}
	done   chan struct{}
	halt   sync.Once

	present                  atomic.Bool
	edges, spurious, counted atomic.Uint64
}

var _ conn.Resource = (*Dev)(nil)

// New configures pin as an input with both edges and starts watching it.
// The first Event reports the state found at start (Initial true).
func New(pin gpio.PinIn, opts *Opts) (*Dev, error) {
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
	if o.Poll <= 0 {
		o.Poll = DefaultOpts.Poll
	}
	if o.MaxBounce <= 0 {
		o.MaxBounce = DefaultOpts.MaxBounce
	}
	if err := pin.In(o.Pull, gpio.BothEdges); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrPin, pin, err)
	}
	d := &Dev{
		pin:    pin,
		opts:   o,
		clock:  o.Clock,
		log:    o.Logger,
		events: make(chan Event, 8),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if d.clock == nil {
		d.clock = clockwork.NewRealClock()
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.log = d.log.With("pin", pin.String())
	go d.run()
	return d, nil
}

// Events delivers debounced changes. It is closed once Halt has stopped the
// watcher. Events are not dropped: a consumer that stops reading stalls the
// watcher (edges then accumulate in the kernel and are re-read on resume).
func (d *Dev) Events() <-chan Event { return d.events }

// Present reports the last stable state.
func (d *Dev) Present() bool { return d.present.Load() }

// Stats reports the debouncer's counters.
func (d *Dev) Stats() Stats {
	return Stats{Edges: d.edges.Load(), Spurious: d.spurious.Load(), Events: d.counted.Load()}
}

// String names the device and its pin.
func (d *Dev) String() string { return fmt.Sprintf("presence{%s}", d.pin) }

// Halt stops the watcher and returns once its goroutine has exited. It asks
// the pin to interrupt a pending WaitForEdge (gpioioctl supports that);
// otherwise the wait ends within Opts.Poll.
func (d *Dev) Halt() error {
	var err error
	d.halt.Do(func() {
		close(d.stop)
		err = d.pin.Halt()
	})
	<-d.done
	if err != nil {
		return fmt.Errorf("presence: halting %s: %w", d.pin, err)
	}
	return nil
}

func (d *Dev) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

func (d *Dev) read() bool { return d.pin.Read() == d.opts.ActiveLevel }

func (d *Dev) run() {
	defer close(d.done)
	defer close(d.events)
	stable := d.read()
	d.present.Store(stable)
	if !d.send(Event{Present: stable, Initial: true, At: d.clock.Now()}) {
		return
	}
	for !d.stopped() {
		edge := d.pin.WaitForEdge(d.opts.Poll)
		if d.stopped() {
			return
		}
		if !edge && d.read() == stable {
			continue // quiet and unchanged: keep polling
		}
		if edge {
			d.edges.Add(1)
		}
		// Wait for the line to stay quiet for Settle, then trust its level.
		for n := 0; n < d.opts.MaxBounce && d.pin.WaitForEdge(d.opts.Settle); n++ {
			d.edges.Add(1)
			if d.stopped() {
				return
			}
		}
		level := d.read()
		if level == stable {
			d.spurious.Add(1)
			d.log.Debug("presence: spurious edge ignored")
			continue
		}
		stable = level
		d.present.Store(stable)
		if !d.send(Event{Present: stable, At: d.clock.Now()}) {
			return
		}
	}
}

// send delivers ev unless the watcher is stopping.
func (d *Dev) send(ev Event) bool {
	d.counted.Add(1) // before the send, so a reader of the event sees it counted
	select {
	case d.events <- ev:
		d.log.Debug("presence: event", "event", ev.String())
		return true
	case <-d.stop:
		d.counted.Add(^uint64(0))
		return false
	}
}
