package chargesense

import (
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

const addr = 0x41

// setup is the traffic of New: probe, calibration, configuration.
// Calibration for 0.1 Ω and 3.2 A: 0.04096 / (3.2 A / 32768 * 0.1 Ω) = 4194.
var setup = []i2ctest.IO{
	{Addr: addr, W: []byte{0x00}, R: []byte{0x39, 0x9f}},
	{Addr: addr, W: []byte{0x05, 0x10, 0x62}},
	{Addr: addr, W: []byte{0x00, 0x1f, 0xff}},
}

// sense is the traffic of one successful Sense.
func sense(shunt, bus, current, power uint16) []i2ctest.IO {
	u := func(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }
	return []i2ctest.IO{
		{Addr: addr, W: []byte{0x01}, R: u(shunt)},
		{Addr: addr, W: []byte{0x02}, R: u(bus)},
		{Addr: addr, W: []byte{0x04}, R: u(current)},
		{Addr: addr, W: []byte{0x03}, R: u(power)},
	}
}

func opts(limit physic.ElectricCurrent) *Opts {
	o := DefaultOpts
	o.Address = addr
	o.Limit = limit
	return &o
}

func TestSense(t *testing.T) {
	const lsb = 97656 * physic.NanoAmpere // 3.2 A / 32768, as periph truncates
	for _, tc := range []struct {
		name    string
		limit   physic.ElectricCurrent
		current uint16
		want    physic.ElectricCurrent
		over    bool
	}{
		{"charging 1.5 A under a 2.5 A limit", 2500 * physic.MilliAmpere, 15360, 15360 * lsb, false},
		{"1.5 A over a 1 A limit", physic.Ampere, 15360, 15360 * lsb, true},
		{"reversed current counts by magnitude", physic.Ampere, 0x10000 - 15360, -15360 * lsb, true},
		{"limit disabled", 0, 30000, 30000 * lsb, false},
		{"idle slot", 2500 * physic.MilliAmpere, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{Ops: append(append([]i2ctest.IO{}, setup...),
				sense(1500, 1250<<3|2, tc.current, 1000)...)}
			d, err := New(bus, opts(tc.limit))
			if err != nil {
				t.Fatal(err)
			}
			r, err := d.Sense()
			if err != nil {
				t.Fatal(err)
			}
			if r.Voltage != 5*physic.Volt || r.Current != tc.want || r.OverCurrent != tc.over || r.Overflow {
				t.Fatalf("reading %+v (%s), want 5 V, %s, over=%v", r, r, tc.want, tc.over)
			}
			if r.Shunt != 15*physic.MilliVolt {
				t.Fatalf("shunt %s", r.Shunt)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A shorted recorder drives the current beyond full scale: the INA219 sets
// its overflow flag, and the reading must still trip the cut-off.
func TestOverflowIsOverCurrent(t *testing.T) {
	ops := append(append([]i2ctest.IO{}, setup...),
		i2ctest.IO{Addr: addr, W: []byte{0x01}, R: []byte{0x7d, 0x00}},
		i2ctest.IO{Addr: addr, W: []byte{0x02}, R: []byte{0x1f, 0x43}}, // 4 V, CNVR|OVF
		i2ctest.IO{Addr: addr, W: []byte{0x02}, R: []byte{0x1f, 0x43}}, // our re-read
	)
	bus := &i2ctest.Playback{Ops: ops}
	d, err := New(bus, opts(2500*physic.MilliAmpere))
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Sense()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Overflow || !r.OverCurrent || r.Voltage != 4000*physic.MilliVolt {
		t.Fatalf("reading %+v, want overflow and over-current at 4 V", r)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// No device on the bus: every transfer is NACKed.
func TestMissingDevice(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true}
	_, err := New(bus, opts(0))
	if !errors.Is(err, ErrNoDevice) {
		t.Fatalf("New = %v, want ErrNoDevice", err)
	}
	if !strings.Contains(err.Error(), "address 0x41") {
		t.Fatalf("error does not name the address: %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// The sensor answered at start, then its bus failed (cable pulled).
func TestReadFailureAfterStart(t *testing.T) {
	bus := &i2ctest.Playback{Ops: append([]i2ctest.IO{}, setup...), DontPanic: true}
	d, err := New(bus, opts(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sense(); !errors.Is(err, ErrRead) {
		t.Fatalf("Sense = %v, want ErrRead", err)
	}
	if err := bus.Close(); err != nil { // the whole setup did happen
		t.Fatal(err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Opts{
		{Address: 0x3f, Shunt: physic.Ohm, MaxCurrent: physic.Ampere},
		{Address: 0x40, Shunt: 0, MaxCurrent: physic.Ampere},
		{Address: 0x40, Shunt: physic.Ohm},
		{Address: 0x40, Shunt: 100 * physic.MilliOhm, MaxCurrent: 4 * physic.Ampere}, // 400 mV
		{Address: 0x40, Shunt: 100 * physic.MilliOhm, MaxCurrent: physic.Ampere, Limit: -physic.Ampere},
	} {
		if _, err := New(&i2ctest.Playback{}, &o); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", o, err)
		}
	}
}
