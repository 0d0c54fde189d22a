package board

import (
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/berthdock/berth/drivers/ina3221"
)

// A short that came and went between two polls: the reading itself is
// normal, but the INA3221 latched its critical flag for the channel, and
// the slot's reading must still say over-current (the cut-off input).
func TestINA3221ChannelCriticalFlag(t *testing.T) {
	const addr = 0x40
	u16 := func(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }
	ops := []i2ctest.IO{
		{Addr: addr, W: []byte{0xFE}, R: u16(0x5449)},
		{Addr: addr, W: []byte{0xFF}, R: u16(0x3220)},
		{Addr: addr, W: []byte{0x00, 0x71, 0x27}},
		{Addr: addr, W: append([]byte{0x07}, u16(3000<<3)...)}, // 1.2 A across 0.1 Ω
	}
	for _, flags := range []uint16{1 << 9, 0x0002} {
		ops = append(ops,
			i2ctest.IO{Addr: addr, W: []byte{0x01}, R: u16(2125 << 3)}, // 85 mV: 850 mA
			i2ctest.IO{Addr: addr, W: []byte{0x02}, R: u16(625 << 3)},  // 5 V
			i2ctest.IO{Addr: addr, W: []byte{0x0F}, R: u16(flags)},
		)
	}
	bus := &i2ctest.Playback{Ops: ops}
	o := ina3221.DefaultOpts
	o.Limits[0] = 1200 * physic.MilliAmpere
	dev, err := ina3221.New(bus, &o)
	if err != nil {
		t.Fatal(err)
	}
	ch := &ina3221Channel{dev: dev, ch: 1, limit: o.Limits[0]}
	for i, want := range []bool{true, false} {
		r, err := ch.Sense()
		if err != nil {
			t.Fatal(err)
		}
		if r.Current != 850*physic.MilliAmpere || r.OverCurrent != want || r.Overflow {
			t.Errorf("reading %d: %+v, want 850 mA over-current=%v", i, r, want)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}
