package board

import (
	"errors"
	"fmt"
	"github.com/berthdock/berth/drivers/cardreader/cardreadertest"
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
	loads   []load // per slot
	bus     *simBus
	board   *Board // set by Open once slots exist
	missing []uint16
	chip    *cardreadertest.Chip // the card reader, if the board file has one
}

// ErrSimNoReader is returned by the card controls of a simulated board
// whose file names no card reader.
var ErrSimNoReader = errors.New("board: the simulated board has no card reader")

// PresentCard holds a card with uid (4 or 7 bytes) on the card reader.
func (s *Sim) PresentCard(uid []byte) error {
	if s.chip == nil {
		return ErrSimNoReader
	}
	return s.chip.Present(uid)
}

// RemoveCard takes the card off the reader.
func (s *Sim) RemoveCard() error {
	if s.chip == nil {
		return ErrSimNoReader
	}
	s.chip.Remove()
	return nil
}

// load is what a docked recorder draws while its slot is powered.
type load struct {
	v physic.ElectricPotential
	i physic.ElectricCurrent
}

// What a simulated recorder draws while charging, until Sim.SetLoad.
const (
	SimLoadVoltage = 5050 * physic.MilliVolt
	SimLoadCurrent = 850 * physic.MilliAmpere
)

func newSim(s *Spec, clock clockwork.Clock) *Sim {
	sim := &Sim{spec: s, clock: clock, pins: map[string]*gpiotest.Pin{}, missing: s.Sim.MissingI2C}
	sim.bus = &simBus{sensors: map[uint16]simChip{}}
	for i, sl := range s.Slots {
		sim.loads = append(sim.loads, load{SimLoadVoltage, SimLoadCurrent})
		c := sl.Current
		if c == nil || slices.Contains(sim.missing, c.Address) {
			continue
		}
		slot := i
		switch c.Type {
		case SensorINA3221:
			m, ok := sim.bus.sensors[c.Address].(*ina3221Model)
			if !ok {
				m = &ina3221Model{}
				sim.bus.sensors[c.Address] = m
			}
			m.shunt[c.Channel-1] = c.Shunt
			m.measure[c.Channel-1] = func() load { return sim.measure(slot) }
		default:
			sim.bus.sensors[c.Address] = &ina219Model{shunt: c.Shunt, regs: [6]uint16{0x399f}, measure: func() load { return sim.measure(slot) }}
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

// SetLoad sets what the recorder in slot draws while the slot is powered
// (SimLoadVoltage and SimLoadCurrent until set): 0 A rehearses a battery that does not take
// charge, a few amperes a shorted recorder. The slot's sensor reads the
// load only while the charge line is on and the presence switch reads
// present, and 0 V, 0 A otherwise, like a sensor behind the charge switch.
func (s *Sim) SetLoad(slot int, v physic.ElectricPotential, i physic.ElectricCurrent) error {
	if _, _, err := s.slot(slot); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads[slot] = load{v, i}
	return nil
}

// measure is what slot's sensor sees now.
func (s *Sim) measure(slot int) load {
	ss := s.spec.Slots[slot]
	s.mu.Lock()
	defer s.mu.Unlock()
	chg, prs := s.pins[ss.Charge.Pin.Name], s.pins[ss.Presence.Pin.Name]
	if chg == nil || prs == nil {
		return load{}
	}
	chg.Lock()
	on := chg.L != gpio.Level(ss.Charge.ActiveLow)
	chg.Unlock()
	prs.Lock()
	present := prs.L == gpio.Level(ss.Presence.ActiveHigh)
	prs.Unlock()
	if on && present {
		return s.loads[slot]
	}
	return load{}
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

// simChip is a register model of an I2C sensor.
type simChip interface {
	tx(w, r []byte) error
}

// simBus is an I2C bus with sensor register models at their addresses.
// Any other address does not acknowledge, like a real bus.
type simBus struct {
	mu      sync.Mutex
	sensors map[uint16]simChip
}

func (b *simBus) sensor(addr uint16) simChip {
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
	mu      sync.Mutex
	shunt   physic.ElectricResistance
	regs    [6]uint16
	measure func() load
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
	l := m.measure()
	vshunt := float64(l.i) * float64(m.shunt) / 1e9 // nV
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
	busv := uint16(max(0, float64(l.v)/4e6)) // 4 mV steps
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

// ina3221Model answers like an INA3221 (TI SBOS576): identity registers,
// configuration, critical limits, and per channel shunt = I·R / 40 µV and
// bus = V / 8 mV, both in bits 15..3, the shunt saturating at 163.8 mV.
// Reading mask/enable (0x0F) returns the critical flags CF1-CF3 (bits 9-7)
// of channels whose shunt voltage exceeds their programmed critical limit.
type ina3221Model struct {
	mu      sync.Mutex
	shunt   [3]physic.ElectricResistance
	measure [3]func() load
	regs    [0x12]uint16
}

// shuntSteps is channel ch's shunt voltage register value (40 µV steps).
func (m *ina3221Model) shuntSteps(ch int) int16 {
	var l load
	if m.measure[ch] != nil {
		l = m.measure[ch]()
	}
	steps := math.Round(float64(l.i) * float64(m.shunt[ch]) / 1e9 / 40e3)
	return int16(max(-4096, min(4095, steps)))
}

func (m *ina3221Model) tx(w, r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(w) == 0 {
		return errors.New("sim-ina3221: empty transfer")
	}
	reg := w[0]
	switch {
	case len(w) == 3 && len(r) == 0 && int(reg) < len(m.regs):
		m.regs[reg] = uint16(w[1])<<8 | uint16(w[2])
		return nil
	case len(w) == 1 && len(r) == 2:
		var v uint16
		switch {
		case reg == 0xFE:
			v = 0x5449
		case reg == 0xFF:
			v = 0x3220
		case reg >= 1 && reg <= 6:
			ch := (int(reg) - 1) / 2
			if reg%2 == 1 {
				v = uint16(m.shuntSteps(ch) << 3)
			} else {
				var l load
				if m.measure[ch] != nil {
					l = m.measure[ch]()
				}
				v = uint16(max(0, min(4095, float64(l.v)/8e6))) << 3
			}
		case reg == 0x0F:
			v = 0x0002 // power-on value: TCF
			for ch := range 3 {
				limit := int16(m.regs[0x07+2*ch]) >> 3
				if limit == 0 {
					limit = 0x7FF8 >> 3 // power-on limit: full scale
				}
				if m.shuntSteps(ch) > limit {
					v |= 1 << (9 - ch)
				}
			}
		case int(reg) < len(m.regs):
			v = m.regs[reg]
		default:
			return fmt.Errorf("sim-ina3221: no register %#x", reg)
		}
		r[0], r[1] = byte(v>>8), byte(v)
		return nil
	}
	return fmt.Errorf("sim-ina3221: unsupported transfer w=%x r=%d bytes", w, len(r))
}

// NewSimSpec describes a simulated board of n slots (1 to 16) without a
// file: RGB LEDs on fake pins, an INA219 model per slot at 0x40+i with the
// default 0.1 Ω shunt and 2.5 A limit, and no links yet (Sim.SetLink points
// each slot at a recsim recorder once its address is known).
func NewSimSpec(name string, n int) (*Spec, error) {
	if n < 1 || n > 16 {
		return nil, fmt.Errorf("board: a simulated board has 1 to 16 slots, not %d", n)
	}
	s := &Spec{File: "(" + name + ")", Name: name, Kind: KindSim, LEDs: LEDSpec{Type: LEDGPIO}}
	for i := range n {
		id := fmt.Sprintf("%d", i+1)
		s.Slots = append(s.Slots, SlotSpec{
			Name:     id,
			Charge:   ChargeSpec{Pin: Pin{Name: "SIM_CHG_" + id}},
			Presence: PresenceSpec{Pin: Pin{Name: "SIM_PRS_" + id}, Pull: "up"},
			LED:      SlotLEDSpec{Pins: []Pin{{Name: "SIM_LED_R_" + id}, {Name: "SIM_LED_G_" + id}, {Name: "SIM_LED_B_" + id}}, Pixel: -1},
			Current: &CurrentSpec{Type: SensorINA219, Address: uint16(0x40 + i), Shunt: 100 * physic.MilliOhm,
				Max: 3200 * physic.MilliAmpere, Limit: 2500 * physic.MilliAmpere},
		})
	}
	return s, nil
}
