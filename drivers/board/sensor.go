package board

import (
	"fmt"

	"periph.io/x/conn/v3/physic"

	"github.com/berthdock/berth/drivers/chargesense"
	"github.com/berthdock/berth/drivers/ina3221"
)

// openSensor opens slot i's current sensor. INA3221 chips are opened once
// and shared by the slots on their channels, each channel's shunt and
// hardware alert limit taken from its slot.
func (b *Board) openSensor(i int, c *CurrentSpec) (sensor, error) {
	bus, err := b.hw.i2c(c.Bus)
	if err != nil {
		return nil, err
	}
	if c.Type != SensorINA3221 {
		return chargesense.New(bus, &chargesense.Opts{Address: c.Address, Shunt: c.Shunt, MaxCurrent: c.Max, Limit: c.Limit})
	}
	key := fmt.Sprintf("%s/%#x", c.Bus, c.Address)
	if b.chips == nil {
		b.chips, b.chipEr = map[string]*ina3221.Dev{}, map[string]error{}
	}
	if err, ok := b.chipEr[key]; ok {
		return nil, err
	}
	dev, ok := b.chips[key]
	if !ok {
		o := ina3221.DefaultOpts
		o.Address = c.Address
		for _, ss := range b.spec.Slots {
			if sc := ss.Current; sc != nil && sc.Type == SensorINA3221 && sc.Bus == c.Bus && sc.Address == c.Address {
				o.Shunts[sc.Channel-1] = sc.Shunt
				o.Limits[sc.Channel-1] = sc.Limit
			}
		}
		dev, err = ina3221.New(bus, &o)
		if err != nil {
			b.chipEr[key] = err
			return nil, err
		}
		b.chips[key] = dev
	}
	return &ina3221Channel{dev: dev, ch: c.Channel, limit: c.Limit}, nil
}

// ina3221Channel presents one INA3221 channel as a slot sensor.
type ina3221Channel struct {
	dev   *ina3221.Dev
	ch    int
	limit physic.ElectricCurrent
}

func (s *ina3221Channel) String() string { return fmt.Sprintf("%s channel %d", s.dev, s.ch) }

func (s *ina3221Channel) Sense() (chargesense.Reading, error) {
	r, err := s.dev.Sense(s.ch)
	if err != nil {
		return chargesense.Reading{}, err
	}
	// With a limit programmed the chip watches the channel on every
	// conversion (about every 7 ms) and latches a critical flag; a short
	// that came and went between two of our polls still trips the cut-off.
	critical := false
	if s.limit > 0 {
		if critical, err = s.dev.Critical(s.ch); err != nil {
			return chargesense.Reading{}, err
		}
	}
	return chargesense.Reading{
		Voltage:     r.Bus,
		Current:     r.Current,
		Power:       physic.Power((int64(r.Current) / 1000) * (int64(r.Bus) / 1000) / 1000), // µA·µV = pW
		Shunt:       r.Shunt,
		Overflow:    r.Saturated,
		OverCurrent: r.Saturated || critical || chargesense.OverLimit(r.Current, s.limit),
	}, nil
}
