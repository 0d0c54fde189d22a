package board

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"
)

// ErrSimSlot is returned by Sim controls for a slot outside the board.
var ErrSimSlot = errors.New("board: no such simulated slot")

// Sim is a simulated board: periph's gpiotest pins, an I2C bus holding
// INA219 register models, and an SPI port that swallows LED frames. The
// drivers on top are the real ones, so the agent runs unchanged.
type Sim struct {
	spec  *Spec
	clock clockwork.Clock

	mu      sync.Mutex
	pins    map[string]*gpiotest.Pin
	bus     *simBus
	board   *Board // set by Open once slots exist
	missing []uint16
}

func newSim(s *Spec, clock clockwork.Clock) *Sim {
	sim := &Sim{spec: s, clock: clock, pins: map[string]*gpiotest.Pin{}, missing: s.Sim.MissingI2C}
	sim.bus = &simBus{sensors: map[uint16]*ina219Model{}}
	for _, sl := range s.Slots {
		if c := sl.Current; c != nil && !slices.Contains(sim.missing, c.Address) {
			sim.bus.sensors[c.Address] = &ina219Model{shunt: c.Shunt, regs: [6]uint16{0x399f}}
		}
	}
	return sim
}

func (s *Sim) pin(name string) (gpio.PinIO, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pins[name]; ok {
		return p, nil
	}
	p := &gpiotest.Pin{N: name, Num: len(s.pins), Clock: s.clock, EdgesChan: make(chan gpio.Level, 64)}
	s.pins[name] = p
	return p, nil
}

// i2c returns the one simulated bus, whatever its name.
func (s *Sim) i2c(string) (i2c.Bus, error) { return s.bus, nil }

// spi returns a port that accepts frames and keeps none (memory stays flat
// however long the demo animates its LEDs).
func (s *Sim) spi(string) (spi.Port, error) { return spitest.NewRecordRaw(io.Discard), nil }

func (s *Sim) close() error { return nil }

func (s *Sim) slot(i int) (*Slot, SlotSpec, error) {
	if s.board == nil || i < 0 || i >= len(s.board.slots) {
		return nil, SlotSpec{}, fmt.Errorf("%w: %d", ErrSimSlot, i)
	}
	return s.board.slots[i], s.spec.Slots[i], nil
}

// setPresence drives the slot's presence pin to present or absent, as an
// edge the presence driver sees.
func (s *Sim) setPresence(slot int, present bool) error {
	_, ss, err := s.slot(slot)
	if err != nil {
		return err
	}
	s.mu.Lock()
	p := s.pins[ss.Presence.Pin.Name]
	s.mu.Unlock()
	level := gpio.Level(present == ss.Presence.ActiveHigh)
	select {
	case p.EdgesChan <- level:
		return nil
	default:
		return fmt.Errorf("board: simulated slot %d: presence pin has 64 unread edges", slot)
	}
}

// Insert docks a recorder in slot (the presence switch closes).
func (s *Sim) Insert(slot int) error { return s.setPresence(slot, true) }

// Remove takes the recorder out of slot.
func (s *Sim) Remove(slot int) error { return s.setPresence(slot, false) }

// Bounce closes and opens the presence switch n times before leaving it
// closed (present true) or open: a worn contact, for debounce rehearsals.
func (s *Sim) Bounce(slot int, n int, present bool) error {
	for i := 0; i < n; i++ {
		if err := s.setPresence(slot, !present); err != nil {
			return err
		}
		if err := s.setPresence(slot, present); err != nil {
			return err
		}
	}
	return nil
}

// SetSupply sets what the slot's current sensor measures.
func (s *Sim) SetSupply(slot int, v physic.ElectricPotential, i physic.ElectricCurrent) error {
	_, ss, err := s.slot(slot)
	if err != nil {
		return err
	}
	if ss.Current == nil {
		return fmt.Errorf("%w: slot %d", ErrNoSensor, slot)
	}
	m := s.bus.sensor(ss.Current.Address)
	if m == nil {
		return fmt.Errorf("board: simulated slot %d: sensor %#x is configured missing", slot, ss.Current.Address)
	}
	m.set(v, i)
	return nil
}

// SetLink points the slot's link at a TCP address (recsim started on
// 127.0.0.1:0 tells its address only once running).
func (s *Sim) SetLink(slot int, tcpAddr string) error {
	sl, _, err := s.slot(slot)
	if err != nil {
		return err
	}
	sl.setLink(SerialSpec{TCP: tcpAddr})
	return nil
}

// LEDLevels returns the levels of a gpio-LED slot's pins (what a person
// would see), for tests and the demo.
func (s *Sim) LEDLevels(slot int) ([]gpio.Level, error) {
	_, ss, err := s.slot(slot)
	if err != nil {
		return nil, err
	}
	var out []gpio.Level
	for _, pn := range ss.LED.Pins {
		s.mu.Lock()
		p := s.pins[pn.Name]
		s.mu.Unlock()
		p.Lock()
		out = append(out, p.L)
		p.Unlock()
	}
	return out, nil
}

// ChargeLevel returns the level on the slot's charge-enable pin.
func (s *Sim) ChargeLevel(slot int) (gpio.Level, error) {
	_, ss, err := s.slot(slot)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	p := s.pins[ss.Charge.Pin.Name]
	s.mu.Unlock()
	p.Lock()
	defer p.Unlock()
	return p.L, nil
}

// simBus is an I2C bus with INA219 register models at their addresses.
// Any other address does not acknowledge, like a real bus.
type simBus struct {
	mu      sync.Mutex
	sensors map[uint16]*ina219Model
}

func (b *simBus) sensor(addr uint16) *ina219Model {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sensors[addr]
}

func (b *simBus) String() string { return "sim-i2c" }

func (b *simBus) SetSpeed(physic.Frequency) error { return nil }

func (b *simBus) Tx(addr uint16, w, r []byte) error {
	m := b.sensor(addr)
	if m == nil {
		return fmt.Errorf("sim-i2c: no acknowledge from address %#x", addr)
	}
	return m.tx(w, r)
}

// ina219Model computes the INA219's registers from a set voltage and
// current using the datasheet's formulas (TI SBOS448, 8.5.1):
// shunt = I·R / 10 µV, current = shunt · calibration / 4096,
// power = current · bus / 5000, bus = V / 4 mV shifted left 3.
type ina219Model struct {
	mu    sync.Mutex
	shunt physic.ElectricResistance
	regs  [6]uint16
	volts physic.ElectricPotential
	amps  physic.ElectricCurrent
}

func (m *ina219Model) set(v physic.ElectricPotential, i physic.ElectricCurrent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.volts, m.amps = v, i
}

func (m *ina219Model) tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(w) == 0 || w[0] > 5 {
		return fmt.Errorf("sim-ina219: bad register access %x", w)
	}
	switch {
	case len(w) == 3 && len(r) == 0:
		if w[0] == 1 || w[0] == 2 || w[0] == 3 || w[0] == 4 {
			return nil // read-only registers ignore writes
		}
		m.regs[w[0]] = uint16(w[1])<<8 | uint16(w[2])
		return nil
	case len(w) == 1 && len(r) == 2:
		v := m.read(w[0])
		r[0], r[1] = byte(v>>8), byte(v)
		return nil
	}
	return fmt.Errorf("sim-ina219: unsupported transfer w=%x r=%d bytes", w, len(r))
}

func (m *ina219Model) read(reg byte) uint16 {
	// Shunt voltage in 10 µV steps, saturating at the ±320 mV range.
	vshunt := float64(m.amps) * float64(m.shunt) / 1e9 // nV
	shunt := math.Round(vshunt / 10e3)
	overflow := false
	if math.Abs(shunt) > 32000 {
		shunt = math.Copysign(32000, shunt)
		overflow = true
	}
	current := math.Trunc(shunt * float64(m.regs[5]) / 4096)
	if math.Abs(current) > 32767 {
		overflow = true
	}
	busv := uint16(max(0, float64(m.volts)/4e6)) // 4 mV steps
	switch reg {
	case 1:
		return uint16(int16(shunt))
	case 2:
		v := busv<<3 | 2 // conversion ready
		if overflow {
			v |= 1
		}
		return v
	case 3:
		return uint16(math.Abs(current) * float64(busv) / 5000)
	case 4:
		return uint16(int16(max(-32768, min(32767, current))))
	}
	return m.regs[reg]
}
