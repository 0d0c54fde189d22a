// Package ina3221 drives a TI INA3221: three shunt and bus voltage monitors
// in one I2C chip, so one part senses three dock slots.
//
// periph.io has no INA3221 driver; this one is small on purpose. It checks
// the chip's identity (manufacturer 0x5449 "TI", die 0x3220), keeps the
// power-on configuration (three channels, continuous shunt and bus
// conversions), computes current from the shunt voltage in software (the
// INA3221 has no current register) and can program each channel's critical
// alert limit, so the chip's open-drain CRITICAL pin trips on over-current
// even if the dock software is stuck; Critical reads the chip's flag for a
// channel, catching a short that came and went between two polls.
//
// Registers (TI SBOS576): 0x00 configuration; 0x01/0x03/0x05 shunt voltage
// of channels 1-3 (bits 15..3, 40 µV, two's complement); 0x02/0x04/0x06 bus
// voltage (bits 15..3, 8 mV); 0x07/0x09/0x0B critical alert limits (same
// format as the shunt voltage); 0x0F mask/enable, whose bits 9, 8, 7 are the
// critical alert flags CF1-CF3 (cleared by reading the register); 0xFE
// manufacturer ID; 0xFF die ID.
package ina3221

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// ErrNoDevice means nothing answered at the address.
var ErrNoDevice = errors.New("ina3221: no device answers at the address")

// ErrWrongDevice means a device answered but is not an INA3221.
var ErrWrongDevice = errors.New("ina3221: device at the address is not an INA3221")

// ErrRead wraps a failed measurement.
var ErrRead = errors.New("ina3221: reading the sensor failed")

// ErrConfig wraps invalid options or a channel outside 1-3.
var ErrConfig = errors.New("ina3221: invalid options")

// Opts configures a Dev. Channels are numbered 1 to 3 as on the chip; index
// 0 of the arrays is channel 1.
type Opts struct {
	// Address is 0x40 (A0 to GND), 0x41 (VS), 0x42 (SDA) or 0x43 (SCL).
	Address uint16
	// Shunts are the channels' shunt resistors. With 0.1 Ω the ±163.8 mV
	// range measures up to 1.64 A; fit 0.05 Ω for up to 3.28 A.
	Shunts [3]physic.ElectricResistance
	// Limits program the critical alert limit of each channel (CRITICAL
	// pin); zero leaves the chip's default (alert disabled at full scale).
	Limits [3]physic.ElectricCurrent
}

// DefaultOpts: address 0x40, 0.1 Ω shunts (common INA3221 modules), no
// hardware alert limits.
var DefaultOpts = Opts{
	Address: 0x40,
	Shunts:  [3]physic.ElectricResistance{100 * physic.MilliOhm, 100 * physic.MilliOhm, 100 * physic.MilliOhm},
}

const (
	regConfig   = 0x00
	regMask     = 0x0F
	maskCF1     = 1 << 9 // CF2 is bit 8, CF3 bit 7
	regManufID  = 0xFE
	regDieID    = 0xFF
	manufTI     = 0x5449
	dieINA3221  = 0x3220
	configReset = 0x7127 // power-on default: 3 channels, 1 average, 1.1 ms, continuous
	shuntLSB    = 40 * physic.MicroVolt
	busLSB      = 8 * physic.MilliVolt
	fullScale   = 0x7FF8 // largest shunt register value (163.8 mV)
)

// Reading is one channel's measurement.
type Reading struct {
	Shunt   physic.ElectricPotential // across the shunt
	Bus     physic.ElectricPotential // bus voltage at the load side
	Current physic.ElectricCurrent   // Shunt / shunt resistance
	// Saturated: the shunt voltage is at full scale, so the true current is
	// at least Current.
	Saturated bool
}

func (r Reading) String() string {
	s := fmt.Sprintf("%s, %s", r.Bus, r.Current)
	if r.Saturated {
		s += " (at full scale)"
	}
	return s
}

// Dev is one INA3221.
type Dev struct {
	mu   sync.Mutex
	dev  i2c.Dev
	opts Opts
	// flags holds critical alert flags read from the chip but not yet
	// reported: reading the mask/enable register clears all three, so a
	// flag seen while asking about one channel is kept for the others.
	flags [3]bool
}

var _ conn.Resource = (*Dev)(nil)

// New identifies the chip, restores its default configuration and programs
// the critical alert limits.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	if o.Address < 0x40 || o.Address > 0x43 {
		return nil, fmt.Errorf("%w: address %#x outside 0x40-0x43", ErrConfig, o.Address)
	}
	for i, r := range o.Shunts {
		if r <= 0 {
			return nil, fmt.Errorf("%w: channel %d shunt %s must be positive", ErrConfig, i+1, r)
		}
	}
	d := &Dev{dev: i2c.Dev{Bus: bus, Addr: o.Address}, opts: o}
	id, err := d.read(regManufID)
	if err != nil {
		return nil, fmt.Errorf("%w: %s address %#x: %w", ErrNoDevice, bus, o.Address, err)
	}
	die, err := d.read(regDieID)
	if err != nil {
		return nil, fmt.Errorf("%w: %s address %#x: reading die ID: %w", ErrRead, bus, o.Address, err)
	}
	if id != manufTI || die != dieINA3221 {
		return nil, fmt.Errorf("%w: %s address %#x: manufacturer %#04x die %#04x", ErrWrongDevice, bus, o.Address, id, die)
	}
	if err := d.write(regConfig, configReset); err != nil {
		return nil, fmt.Errorf("%w: configuring: %w", ErrRead, err)
	}
	for i, limit := range o.Limits {
		if limit == 0 {
			continue
		}
		// nA·nΩ/1e9 = nV, scaled down first so large values cannot overflow.
		v := physic.ElectricPotential((int64(limit) / 1000) * (int64(o.Shunts[i]) / 1000) / 1000)
		steps := int64(v / shuntLSB)
		if steps <= 0 || steps > fullScale>>3 {
			return nil, fmt.Errorf("%w: channel %d limit %s is %s across %s, outside the 0-163.8mV range", ErrConfig, i+1, limit, v, o.Shunts[i])
		}
		if err := d.write(byte(0x07+2*i), uint16(steps<<3)); err != nil {
			return nil, fmt.Errorf("%w: setting channel %d critical limit: %w", ErrRead, i+1, err)
		}
	}
	return d, nil
}

func (d *Dev) read(reg byte) (uint16, error) {
	var b [2]byte
	if err := d.dev.Tx([]byte{reg}, b[:]); err != nil {
		return 0, err
	}
	return uint16(b[0])<<8 | uint16(b[1]), nil
}

func (d *Dev) write(reg byte, v uint16) error {
	return d.dev.Tx([]byte{reg, byte(v >> 8), byte(v)}, nil)
}

// String names the chip.
func (d *Dev) String() string { return fmt.Sprintf("ina3221{%s %#x}", d.dev.Bus, d.opts.Address) }

// Sense measures channel ch (1 to 3).
func (d *Dev) Sense(ch int) (Reading, error) {
	if ch < 1 || ch > 3 {
		return Reading{}, fmt.Errorf("%w: channel %d (want 1 to 3)", ErrConfig, ch)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	sh, err := d.read(byte(2*ch - 1))
	if err != nil {
		return Reading{}, fmt.Errorf("%w: %s channel %d shunt: %w", ErrRead, d, ch, err)
	}
	bus, err := d.read(byte(2 * ch))
	if err != nil {
		return Reading{}, fmt.Errorf("%w: %s channel %d bus: %w", ErrRead, d, ch, err)
	}
	// Bits 2..0 read as zero on a real chip; decode the steps so stray low
	// bits (a marginal bus) cannot hide saturation.
	steps := int16(sh) >> 3
	r := Reading{
		Shunt:     physic.ElectricPotential(steps) * shuntLSB,
		Bus:       physic.ElectricPotential(int16(bus)>>3) * busLSB,
		Saturated: steps == fullScale>>3 || steps == -(fullScale>>3)-1,
	}
	r.Current = physic.ElectricCurrent(int64(r.Shunt) * int64(physic.Ohm) / int64(d.opts.Shunts[ch-1]))
	return r, nil
}

// Critical reports whether channel ch (1 to 3) has crossed its critical
// alert limit (Opts.Limits) since the last call: the chip's own over-current
// detection, the same condition that drives its CRITICAL pin. It is an input
// for the dock's cut-off alongside Sense; a channel without a limit never
// trips.
func (d *Dev) Critical(ch int) (bool, error) {
	if ch < 1 || ch > 3 {
		return false, fmt.Errorf("%w: channel %d (want 1 to 3)", ErrConfig, ch)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.read(regMask)
	if err != nil {
		return false, fmt.Errorf("%w: %s mask/enable: %w", ErrRead, d, err)
	}
	for i := range d.flags {
		if v&(maskCF1>>i) != 0 {
			d.flags[i] = true
		}
	}
	tripped := d.flags[ch-1]
	d.flags[ch-1] = false
	return tripped, nil
}

// Halt does nothing: the chip keeps measuring so its hardware alert stays
// armed. It exists for conn.Resource.
func (d *Dev) Halt() error { return nil }
