package board

import (
	"context"
	"errors"
	"fmt"
	"github.com/berthdock/berth/drivers/cardreader"
	"github.com/berthdock/berth/drivers/cardreader/cardreadertest"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/devices/v3/apa102"
	"periph.io/x/devices/v3/nrzled"

	"github.com/berthdock/berth/drivers/chargesense"
	"github.com/berthdock/berth/drivers/ina3221"
	"github.com/berthdock/berth/drivers/led"
	"github.com/berthdock/berth/drivers/presence"
	"github.com/berthdock/berth/drivers/seriallink"
	"github.com/berthdock/berth/drivers/slotpower"
)

// ErrUnsupported is returned when opening real hardware on a system
// without it (periph's host drivers are Linux-only).
var ErrUnsupported = errors.New("board: real hardware needs Linux")

// ErrHardware wraps a part of the board that cannot be opened.
var ErrHardware = errors.New("board: hardware not reachable")

// ErrNoSensor is returned by Slot.Sense on a slot without a current sensor.
var ErrNoSensor = errors.New("board: slot has no current sensor")

// ErrLink wraps a slot link that cannot be opened.
var ErrLink = errors.New("board: cannot open slot link")

// Opts configures Open.
type Opts struct {
	// Clock drives LEDs, power cycles, link backoff and (on the simulated
	// board) the pins; nil means the real clock.
	Clock clockwork.Clock
	// Logger receives driver logs; nil discards them.
	Logger *slog.Logger
	// Link configures serial links opened by Slot.OpenLink.
	Link seriallink.Opts
}

// DefaultOpts uses the real clock and seriallink's defaults.
var DefaultOpts = Opts{Link: seriallink.DefaultOpts}

// hardware gives the parts a board file names. It is the seam between the
// real host (periph host drivers) and the simulation (periph fakes).
type hardware interface {
	pin(name string) (gpio.PinIO, error)
	i2c(bus string) (i2c.Bus, error)
	spi(port string) (spi.Port, error)
	close() error
}

// Board is an opened board: its slots and their drivers.
type Board struct {
	spec   *Spec
	hw     hardware
	leds   *led.Dev
	slots  []*Slot
	sim    *Sim
	log    *slog.Logger
	chips  map[string]*ina3221.Dev // opened INA3221s by bus and address
	chipEr map[string]error        // INA3221s that failed to open
	reader *cardreader.Dev         // nil without a card reader
	// readerFault says why the board file's card reader is not in use.
	readerFault error
}

var _ conn.Resource = (*Board)(nil)

// sensor is a slot's current sensor: an INA219 or one INA3221 channel.
type sensor interface {
	Sense() (chargesense.Reading, error)
	String() string
}

// Slot is one slot's hardware, the small surface the dock agent uses.
type Slot struct {
	Index int
	Name  string
	// Power switches the slot's charge (commanded state kept in software).
	Power *slotpower.Dev
	// Presence delivers debounced insert/remove events.
	Presence *presence.Dev

	leds       *led.Dev
	current    sensor
	currentErr error
	linkOpts   seriallink.Opts

	storage *StorageSpec // nil: a DockLink slot

	mu   sync.Mutex
	link SerialSpec
}

func (s *Slot) setLink(l SerialSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.link = l
}

func (s *Slot) getLink() SerialSpec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.link
}

// Open opens every part of the board described by s. On a real board the
// caller must run as a user allowed to use /dev/gpiochip*, /dev/i2c-* and
// /dev/spidev*. A configured current sensor that does not answer does not
// fail Open (the dock keeps working, and Slot.Sense reports the fault);
// missing pins, buses and LED hardware do.
func Open(s *Spec, opts *Opts) (*Board, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Board{spec: s, log: o.Logger.With("board", s.Name)}
	var err error
	switch s.Kind {
	case KindSim:
		b.sim = newSim(s, o.Clock)
		b.hw = b.sim
	case KindRPi4, KindRPi5:
		b.hw, err = openHost()
	default:
		err = fmt.Errorf("board: unknown kind %q", s.Kind)
	}
	if err != nil {
		return nil, err
	}
	if err := b.open(o); err != nil {
		_ = b.Halt()
		return nil, err
	}
	if b.sim != nil {
		b.sim.board = b
	}
	return b, nil
}

func (b *Board) fail(line int, field string, err error) error {
	return fmt.Errorf("%w: %s:%d: %s: %w", ErrHardware, b.spec.File, line, field, err)
}

func (b *Board) open(o Opts) error {
	s := b.spec
	out, err := b.ledOutput()
	if err != nil {
		return err
	}
	if err := b.openReader(o); err != nil {
		return err
	}
	b.leds, err = led.New(out, &led.Opts{Slots: len(s.Slots), Frame: led.DefaultOpts.Frame, Clock: o.Clock, Logger: o.Logger})
	if err != nil {
		return b.fail(s.LEDs.Line, "leds", err)
	}
	for i, ss := range s.Slots {
		at := fmt.Sprintf("slots[%d]", i)
		sl := &Slot{Index: i, Name: ss.Name, leds: b.leds, link: ss.Serial, linkOpts: o.Link, storage: ss.Storage}
		if sl.linkOpts.Clock == nil {
			sl.linkOpts.Clock = o.Clock
		}
		if sl.linkOpts.Logger == nil {
			sl.linkOpts.Logger = o.Logger
		}
		b.slots = append(b.slots, sl)

		pin, err := b.hw.pin(ss.Charge.Pin.Name)
		if err != nil {
			return b.fail(ss.Charge.Pin.Line, at+".charge.pin", err)
		}
		sl.Power, err = slotpower.New(pin, &slotpower.Opts{ActiveLow: ss.Charge.ActiveLow, Settle: ss.Charge.Settle, Clock: o.Clock})
		if err != nil {
			return b.fail(ss.Charge.Pin.Line, at+".charge.pin", err)
		}

		pin, err = b.hw.pin(ss.Presence.Pin.Name)
		if err != nil {
			return b.fail(ss.Presence.Pin.Line, at+".presence.pin", err)
		}
		po := presence.DefaultOpts
		po.ActiveLevel = gpio.Level(ss.Presence.ActiveHigh)
		po.Pull = map[string]gpio.Pull{"up": gpio.PullUp, "down": gpio.PullDown, "none": gpio.PullNoChange}[ss.Presence.Pull]
		if s.Kind == KindSim {
			po.Settle, po.Poll = 10*time.Millisecond, 100*time.Millisecond
		}
		if ss.Presence.Settle > 0 {
			po.Settle = ss.Presence.Settle
		}
		po.Clock, po.Logger = o.Clock, o.Logger.With("slot", ss.Name)
		sl.Presence, err = presence.New(pin, &po)
		if err != nil {
			return b.fail(ss.Presence.Pin.Line, at+".presence.pin", err)
		}

		if c := ss.Current; c != nil {
			sl.current, err = b.openSensor(i, c)
			if err != nil {
				if !errors.Is(err, chargesense.ErrNoDevice) && !errors.Is(err, ina3221.ErrNoDevice) {
					return b.fail(c.Line, at+".current", err)
				}
				sl.currentErr = b.fail(c.Line, at+".current", err)
				b.log.Warn("board: current sensor not reachable", "slot", ss.Name, "err", err)
			}
		}
	}
	return nil
}

func (b *Board) ledOutput() (led.Output, error) {
	s := b.spec
	switch s.LEDs.Type {
	case LEDGPIO:
		pins := make([][]gpio.PinOut, len(s.Slots))
		for i, ss := range s.Slots {
			for j, p := range ss.LED.Pins {
				pin, err := b.hw.pin(p.Name)
				if err != nil {
					return nil, b.fail(p.Line, fmt.Sprintf("slots[%d].led.pins[%d]", i, j), err)
				}
				pins[i] = append(pins[i], pin)
			}
		}
		out, err := led.NewGPIO(pins, s.LEDs.ActiveLow)
		if err != nil {
			return nil, b.fail(s.LEDs.Line, "leds", err)
		}
		return out, nil
	case LEDAPA102, LEDWS2812:
		port, err := b.hw.spi(s.LEDs.SPI)
		if err != nil {
			return nil, b.fail(s.LEDs.Line, "leds.spi", err)
		}
		var w led.PixelWriter
		if s.LEDs.Type == LEDAPA102 {
			o := apa102.PassThruOpts
			o.NumPixels = s.LEDs.Pixels
			w, err = apa102.New(port, &o)
		} else {
			w, err = nrzled.NewSPI(port, &nrzled.Opts{NumPixels: s.LEDs.Pixels, Channels: 3, Freq: 2500 * physic.KiloHertz})
		}
		if err != nil {
			return nil, b.fail(s.LEDs.Line, "leds", err)
		}
		index := make([]int, len(s.Slots))
		for i, ss := range s.Slots {
			index[i] = ss.LED.Pixel
		}
		out, err := led.NewStrip(w, s.LEDs.Pixels, index)
		if err != nil {
			return nil, b.fail(s.LEDs.Line, "leds", err)
		}
		return out, nil
	}
	return nil, b.fail(s.LEDs.Line, "leds.type", fmt.Errorf("unknown LED type %q", s.LEDs.Type))
}

// String names the board.
func (b *Board) String() string {
	return fmt.Sprintf("board{%s %s, %d slots}", b.spec.Name, b.spec.Kind, len(b.slots))
}

// Spec returns the board file the board was opened from.
func (b *Board) Spec() *Spec { return b.spec }

// Slots returns the slots in board-file order.
func (b *Board) Slots() []*Slot { return b.slots }

// LEDs returns the board's indicator driver.
func (b *Board) LEDs() *led.Dev { return b.leds }

// CardReader returns the officers' card reader, or nil when the board file
// names none (the dock works without one). The caller runs it; Halt halts
// it, once its Run returned.
func (b *Board) CardReader() *cardreader.Dev { return b.reader }

// openReader opens the board file's card reader, if any: on the simulated
// board a register-level fake of the chip (Sim.PresentCard).
func (b *Board) openReader(o Opts) error {
	c := b.spec.CardReader
	if c == nil {
		return nil
	}
	ro := cardreader.DefaultOpts
	ro.AntennaGain, ro.Clock, ro.Log = c.Gain, o.Clock, o.Logger
	var err error
	if b.sim != nil {
		chip := cardreadertest.New()
		b.sim.chip = chip
		b.reader, err = cardreader.New(chip, chip.Reset, chip.IRQ, &ro)
	} else {
		port, perr := b.hw.spi(c.SPI)
		if perr != nil {
			return b.fail(c.Line, "card_reader.spi", perr)
		}
		reset, perr := b.hw.pin(c.Reset.Name)
		if perr != nil {
			return b.fail(c.Reset.Line, "card_reader.reset", perr)
		}
		irq, perr := b.hw.pin(c.IRQ.Name)
		if perr != nil {
			return b.fail(c.IRQ.Line, "card_reader.irq", perr)
		}
		b.reader, err = cardreader.New(port, reset, irq, &ro)
	}
	if errors.Is(err, cardreader.ErrNotFitted) {
		// The reader is optional: the dock goes on without checkout by
		// card rather than refuse to copy footage.
		b.reader, b.readerFault = nil, fmt.Errorf("board file line %d: card_reader: %w", c.Line, err)
		b.log.Error("the card reader the board file names does not answer: checkout by card is off", "err", err)
		return nil
	}
	if err != nil {
		return b.fail(c.Line, "card_reader", err)
	}
	return nil
}

// CardReaderFault says why the board file's card reader is not in use
// (nil if it is, or if the board file names none).
func (b *Board) CardReaderFault() error { return b.readerFault }

// Sim returns the simulation controls, or nil on real hardware.
func (b *Board) Sim() *Sim { return b.sim }

// Halt switches every slot's charge off, stops the presence watchers and
// the LEDs (joining their goroutines) and releases the buses.
func (b *Board) Halt() error {
	var errs []error
	// Charge off first, every slot, before anything that may take time.
	for _, sl := range b.slots {
		if sl.Power != nil {
			errs = append(errs, sl.Power.Halt())
		}
	}
	// A presence watcher may take up to its poll period to notice the stop
	// on pins that cannot interrupt a wait; stop them all at once.
	perrs := make([]error, len(b.slots))
	var wg sync.WaitGroup
	for i, sl := range b.slots {
		if sl.Presence != nil {
			wg.Go(func() { perrs[i] = sl.Presence.Halt() })
		}
	}
	wg.Wait()
	errs = append(errs, perrs...)
	if b.leds != nil {
		errs = append(errs, b.leds.Halt())
	}
	if b.reader != nil {
		errs = append(errs, b.reader.Halt())
	}
	if b.hw != nil {
		errs = append(errs, b.hw.close())
	}
	return errors.Join(errs...)
}

// String names the slot.
func (s *Slot) String() string { return fmt.Sprintf("slot %d (%s)", s.Index, s.Name) }

// SetPattern shows p on the slot's indicator.
func (s *Slot) SetPattern(p led.Pattern) error { return s.leds.SetPattern(s.Index, p) }

// Pattern returns the pattern shown on the slot's indicator.
func (s *Slot) Pattern() led.Pattern { return s.leds.Pattern(s.Index) }

// HasSensor reports whether the board file gives the slot a current sensor.
func (s *Slot) HasSensor() bool { return s.current != nil || s.currentErr != nil }

// Sense reads the slot's charge current and voltage. It returns
// ErrNoSensor on a slot without one, and an error wrapping
// chargesense.ErrNoDevice when the configured sensor did not answer.
func (s *Slot) Sense() (chargesense.Reading, error) {
	switch {
	case s.currentErr != nil:
		return chargesense.Reading{}, s.currentErr
	case s.current == nil:
		return chargesense.Reading{}, ErrNoSensor
	}
	return s.current.Sense()
}

// Storage is where the slot's mass-storage recorder appears, for a slot
// of legacy recorders (board file storage:); false for a DockLink slot.
func (s *Slot) Storage() (StorageSpec, bool) {
	if s.storage == nil {
		return StorageSpec{}, false
	}
	return *s.storage, true
}

// LinkName describes where the slot's recorder link is.
func (s *Slot) LinkName() string {
	if s.storage != nil {
		return "storage:" + s.storage.Path
	}
	l := s.getLink()
	if l.TCP != "" {
		return "tcp:" + l.TCP
	}
	return l.Path
}

// OpenLink opens the slot's recorder link: the serial port (a
// *seriallink.Dev, whose Reconnect handles unplug/replug) or, on the
// simulated board, a TCP connection to recsim.
func (s *Slot) OpenLink(ctx context.Context) (io.ReadWriteCloser, error) {
	if s.storage != nil {
		return nil, fmt.Errorf("%w: %s: a mass-storage slot has no serial link (%s)", ErrLink, s, s.storage.Path)
	}
	l := s.getLink()
	switch {
	case l.TCP != "":
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", l.TCP)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrLink, s, err)
		}
		return c, nil
	case l.Path != "":
		o := s.linkOpts
		d, err := seriallink.Open(l.Path, &o)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrLink, s, err)
		}
		return d, nil
	}
	return nil, fmt.Errorf("%w: %s: no link configured", ErrLink, s)
}
