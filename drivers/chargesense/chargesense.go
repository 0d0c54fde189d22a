// Package chargesense measures a slot's charge current and voltage with an
// INA219 over I2C, through periph's ina219 driver.
//
// Shunt: the default assumes the 0.1 Ω (R100) shunt found on common INA219
// boards, in series with the slot's 5 V feed. With the INA219's ±320 mV
// range that measures up to 3.2 A at about 0.1 mA per step, well above a
// recorder's 0.5–2 A charge current. Set Opts.Shunt and Opts.MaxCurrent for
// other shunts (e.g. 0.05 Ω for a 6.4 A range).
//
// The package reports readings and flags over-current against Opts.Limit;
// cutting power is the dock agent's decision (with drivers/slotpower).
package chargesense

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/ina219"
)

// ErrNoDevice means nothing answered at the sensor's address: a missing,
// unpowered or mis-addressed INA219 (or a wrong bus in the board file).
var ErrNoDevice = errors.New("chargesense: no INA219 answers at the address")

// ErrRead wraps a failed measurement on a sensor that was found at New.
var ErrRead = errors.New("chargesense: reading the sensor failed")

// ErrConfig wraps an invalid option.
var ErrConfig = errors.New("chargesense: invalid options")

// Opts configures a Dev.
type Opts struct {
	// Address is the INA219's I2C address, 0x40 to 0x4f.
	Address uint16
	// Shunt is the shunt resistor in series with the slot's supply.
	Shunt physic.ElectricResistance
	// MaxCurrent is the full-scale current used for calibration; it must
	// not exceed 320 mV / Shunt.
	MaxCurrent physic.ElectricCurrent
	// Limit is the over-current threshold: readings at or above it (or an
	// out-of-range measurement) have OverCurrent set. Zero disables it.
	Limit physic.ElectricCurrent
}

// DefaultOpts: address 0x40, 0.1 Ω shunt, 3.2 A full scale, 2.5 A limit.
var DefaultOpts = Opts{
	Address:    0x40,
	Shunt:      100 * physic.MilliOhm,
	MaxCurrent: 3200 * physic.MilliAmpere,
	Limit:      2500 * physic.MilliAmpere,
}

// Reading is one measurement of a slot's supply.
type Reading struct {
	Voltage physic.ElectricPotential // bus voltage at the slot
	Current physic.ElectricCurrent   // charge current (negative if reversed)
	Power   physic.Power
	Shunt   physic.ElectricPotential // voltage across the shunt
	// Overflow: the sensor's math overflowed (current beyond full scale);
	// Current and Power are then unknown.
	Overflow bool
	// OverCurrent: Current is at or above the limit, or Overflow is set.
	// This is the input for the agent's cut-off.
	OverCurrent bool
}

func (r Reading) String() string {
	if r.Overflow {
		return fmt.Sprintf("%s, current beyond full scale (over-current)", r.Voltage)
	}
	s := fmt.Sprintf("%s, %s", r.Voltage, r.Current)
	if r.OverCurrent {
		s += " (over-current)"
	}
	return s
}

// OverLimit reports whether current c trips limit (0 disables the check).
func OverLimit(c, limit physic.ElectricCurrent) bool {
	if limit <= 0 {
		return false
	}
	if c < 0 {
		c = -c
	}
	return c >= limit
}

const (
	regConfig = 0x00
	regBus    = 0x02
	ovfBit    = 1 << 0 // bus voltage register: math overflow
	maxShunt  = 320 * physic.MilliVolt
)

// Dev is one INA219 on a slot's supply.
type Dev struct {
	dev  *ina219.Dev
	i2c  i2c.Dev
	opts Opts
}

var _ conn.Resource = (*Dev)(nil)

// New probes the INA219 at opts.Address and calibrates it. It returns an
// error wrapping ErrNoDevice when nothing answers.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	if o.Address < 0x40 || o.Address > 0x4f {
		return nil, fmt.Errorf("%w: address %#x outside 0x40-0x4f", ErrConfig, o.Address)
	}
	if o.Shunt <= 0 || o.MaxCurrent <= 0 {
		return nil, fmt.Errorf("%w: shunt %s and full scale %s must be positive", ErrConfig, o.Shunt, o.MaxCurrent)
	}
	// µA·µΩ = pV; scaled down first so large values cannot overflow.
	if fs := physic.ElectricPotential((int64(o.MaxCurrent) / 1000) * (int64(o.Shunt) / 1000) / 1000); fs > maxShunt {
		return nil, fmt.Errorf("%w: full scale %s across %s is %s, beyond the INA219's %s shunt range", ErrConfig, o.MaxCurrent, o.Shunt, fs, maxShunt)
	}
	if o.Limit < 0 {
		return nil, fmt.Errorf("%w: negative limit %s", ErrConfig, o.Limit)
	}
	d := &Dev{i2c: i2c.Dev{Bus: bus, Addr: o.Address}, opts: o}
	// periph's driver would report a missing device as a calibration
	// failure; probe first so the error says what is wrong.
	var cfg [2]byte
	if err := d.i2c.Tx([]byte{regConfig}, cfg[:]); err != nil {
		return nil, fmt.Errorf("%w: %s address %#x: %w", ErrNoDevice, bus, o.Address, err)
	}
	dev, err := ina219.New(bus, &ina219.Opts{Address: int(o.Address), SenseResistor: o.Shunt, MaxCurrent: o.MaxCurrent})
	if err != nil {
		return nil, fmt.Errorf("%w: calibrating %s address %#x: %w", ErrRead, bus, o.Address, err)
	}
	d.dev = dev
	return d, nil
}

// String names the sensor.
func (d *Dev) String() string { return fmt.Sprintf("ina219{%s %#x}", d.i2c.Bus, d.opts.Address) }

// Limit returns the over-current threshold.
func (d *Dev) Limit() physic.ElectricCurrent { return d.opts.Limit }

// Sense measures the slot's supply.
func (d *Dev) Sense() (Reading, error) {
	pm, err := d.dev.Sense()
	if err == nil {
		return Reading{
			Voltage:     pm.Voltage,
			Current:     pm.Current,
			Power:       pm.Power,
			Shunt:       pm.Shunt,
			OverCurrent: OverLimit(pm.Current, d.opts.Limit),
		}, nil
	}
	// periph's ina219 hides the overflow condition behind an unexported
	// error; read the bus voltage register to tell overflow (a short, a
	// failing recorder) from a bus failure.
	var b [2]byte
	if berr := d.i2c.Tx([]byte{regBus}, b[:]); berr != nil {
		return Reading{}, fmt.Errorf("%w: %s: %w", ErrRead, d, errors.Join(err, berr))
	}
	raw := uint16(b[0])<<8 | uint16(b[1])
	if raw&ovfBit == 0 {
		return Reading{}, fmt.Errorf("%w: %s: %w", ErrRead, d, err)
	}
	return Reading{
		Voltage:     physic.ElectricPotential(raw>>3) * 4 * physic.MilliVolt,
		Overflow:    true,
		OverCurrent: true,
	}, nil
}

// Halt does nothing: the sensor only measures. It exists for conn.Resource.
func (d *Dev) Halt() error { return nil }
