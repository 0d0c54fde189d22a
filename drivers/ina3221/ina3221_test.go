package ina3221

import (
	"errors"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

const addr = 0x41

var ident = []i2ctest.IO{
	{Addr: addr, W: []byte{0xFE}, R: []byte{0x54, 0x49}},
	{Addr: addr, W: []byte{0xFF}, R: []byte{0x32, 0x20}},
	{Addr: addr, W: []byte{0x00, 0x71, 0x27}},
}

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func opts() *Opts {
	o := DefaultOpts
	o.Address = addr
	return &o
}

func TestSense(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ch         int
		shunt, bus uint16
		current    physic.ElectricCurrent
		busV       physic.ElectricPotential
		saturated  bool
	}{
		// 85 mV across 0.1 Ω = 850 mA; 85 mV / 40 µV = 2125 steps.
		{"charging on channel 1", 1, 2125 << 3, 631 << 3, 850 * physic.MilliAmpere, 5048 * physic.MilliVolt, false},
		{"idle channel 2", 2, 0, 625 << 3, 0, 5 * physic.Volt, false},
		{"reverse current on channel 3", 3, uint16(0x10000 - 100<<3), 625 << 3, -40 * physic.MilliAmpere, 5 * physic.Volt, false},
		{"short at full scale", 3, 0x7FF8, 500 << 3, 1638 * physic.MilliAmpere, 4 * physic.Volt, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := append(append([]i2ctest.IO{}, ident...),
				i2ctest.IO{Addr: addr, W: []byte{byte(2*tc.ch - 1)}, R: u16(tc.shunt)},
				i2ctest.IO{Addr: addr, W: []byte{byte(2 * tc.ch)}, R: u16(tc.bus)},
			)
			bus := &i2ctest.Playback{Ops: ops}
			d, err := New(bus, opts())
			if err != nil {
				t.Fatal(err)
			}
			r, err := d.Sense(tc.ch)
			if err != nil {
				t.Fatal(err)
			}
			if r.Current != tc.current || r.Bus != tc.busV || r.Saturated != tc.saturated {
				t.Fatalf("reading %+v (%s), want %s at %s saturated=%v", r, r, tc.current, tc.busV, tc.saturated)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Limits are programmed as shunt voltages in the critical alert registers.
func TestCriticalLimits(t *testing.T) {
	o := opts()
	o.Limits = [3]physic.ElectricCurrent{1500 * physic.MilliAmpere, 0, 1 * physic.Ampere}
	o.Shunts[2] = 50 * physic.MilliOhm
	ops := append(append([]i2ctest.IO{}, ident...),
		i2ctest.IO{Addr: addr, W: append([]byte{0x07}, u16(3750<<3)...)}, // 150 mV / 40 µV
		i2ctest.IO{Addr: addr, W: append([]byte{0x0B}, u16(1250<<3)...)}, // 50 mV / 40 µV
	)
	bus := &i2ctest.Playback{Ops: ops}
	if _, err := New(bus, o); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	o.Limits[0] = 2 * physic.Ampere // 200 mV: beyond the 163.8 mV range
	if _, err := New(&i2ctest.Playback{Ops: ident, DontPanic: true}, o); !errors.Is(err, ErrConfig) {
		t.Fatalf("out-of-range limit: %v", err)
	}
}

func TestMissingDevice(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true}
	if _, err := New(bus, opts()); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("New = %v, want ErrNoDevice", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// An INA219 at the same address answers, but with other IDs.
func TestWrongDevice(t *testing.T) {
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: addr, W: []byte{0xFE}, R: []byte{0x39, 0x9f}},
		{Addr: addr, W: []byte{0xFF}, R: []byte{0x39, 0x9f}},
	}}
	if _, err := New(bus, opts()); !errors.Is(err, ErrWrongDevice) {
		t.Fatalf("New = %v, want ErrWrongDevice", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBadChannelAndOptions(t *testing.T) {
	bus := &i2ctest.Playback{Ops: ident}
	d, err := New(bus, opts())
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []int{0, 4} {
		if _, err := d.Sense(ch); !errors.Is(err, ErrConfig) {
			t.Errorf("Sense(%d) = %v", ch, err)
		}
	}
	if _, err := New(bus, &Opts{Address: 0x44}); !errors.Is(err, ErrConfig) {
		t.Errorf("address 0x44 accepted: %v", err)
	}
}

func TestReadFailure(t *testing.T) {
	bus := &i2ctest.Playback{Ops: ident, DontPanic: true}
	d, err := New(bus, opts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sense(1); !errors.Is(err, ErrRead) {
		t.Fatalf("Sense = %v, want ErrRead", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// The chip's critical flags (CF1 bit 9, CF2 bit 8, CF3 bit 7) are cleared
// by one read of the mask/enable register; a flag seen while asking about
// one channel must still be reported for its own channel.
func TestCritical(t *testing.T) {
	ops := append(append([]i2ctest.IO{}, ident...),
		i2ctest.IO{Addr: addr, W: []byte{0x0F}, R: u16(1<<8 | 1<<7 | 0x0002)}, // CF2, CF3, TCF
		i2ctest.IO{Addr: addr, W: []byte{0x0F}, R: u16(0x0002)},
		i2ctest.IO{Addr: addr, W: []byte{0x0F}, R: u16(0x0002)},
		i2ctest.IO{Addr: addr, W: []byte{0x0F}, R: u16(1 << 9)}, // CF1
		i2ctest.IO{Addr: addr, W: []byte{0x0F}, R: u16(0x0002)},
	)
	bus := &i2ctest.Playback{Ops: ops}
	d, err := New(bus, opts())
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		ch   int
		want bool
	}{
		{1, false}, // CF2 and CF3 seen, kept
		{2, true},  // from the first read
		{2, false}, // reported once
		{3, true},  // still kept from the first read
		{1, true},
	} {
		got, err := d.Critical(tc.ch)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("call %d: Critical(%d) = %v, want %v", i, tc.ch, got, tc.want)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Critical(4); !errors.Is(err, ErrConfig) {
		t.Fatalf("Critical(4) = %v", err)
	}
}

func TestCriticalReadFailure(t *testing.T) {
	bus := &i2ctest.Playback{Ops: ident, DontPanic: true}
	d, err := New(bus, opts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Critical(1); !errors.Is(err, ErrRead) {
		t.Fatalf("Critical = %v, want ErrRead", err)
	}
}

// Low bits that a real chip reads as zero must not hide saturation.
func TestSaturatedWithStrayLowBits(t *testing.T) {
	for _, raw := range []uint16{0x7FF8, 0x7FFF, 0x8000, 0x8007} {
		bus := &i2ctest.Playback{Ops: append(append([]i2ctest.IO{}, ident...),
			i2ctest.IO{Addr: addr, W: []byte{0x01}, R: u16(raw)},
			i2ctest.IO{Addr: addr, W: []byte{0x02}, R: u16(625 << 3)},
		)}
		d, err := New(bus, opts())
		if err != nil {
			t.Fatal(err)
		}
		r, err := d.Sense(1)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Saturated {
			t.Errorf("shunt register %#04x: not saturated (%s)", raw, r)
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
