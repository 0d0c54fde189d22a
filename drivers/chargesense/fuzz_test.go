package chargesense

import (
	"fmt"
	"testing"

	"periph.io/x/conn/v3/physic"
)

// regs is an I2C bus with one INA219 whose registers hold what the fuzzer
// chose: any bytes a damaged or counterfeit sensor might return.
type regs struct{ r [6]uint16 }

func (b *regs) String() string                  { return "fuzz" }
func (b *regs) SetSpeed(physic.Frequency) error { return nil }
func (b *regs) Tx(addr uint16, w, r []byte) error {
	if addr != 0x40 || len(w) == 0 || w[0] > 5 {
		return fmt.Errorf("no acknowledge %#x %x", addr, w)
	}
	if len(w) == 3 {
		return nil // calibration and configuration writes
	}
	v := b.r[w[0]]
	if len(r) == 2 {
		r[0], r[1] = byte(v>>8), byte(v)
	}
	return nil
}

// FuzzSense: whatever the registers hold, Sense never panics, never
// errors on a bus that answers, and its cut-off input is consistent: an
// overflowed conversion is always over-current, otherwise over-current is
// exactly the current's magnitude reaching the limit.
func FuzzSense(f *testing.F) {
	f.Add(uint16(1500), uint16(1250<<3|2), uint16(15360), uint16(1000))
	f.Add(uint16(0x7d00), uint16(0x1f43), uint16(0), uint16(0))
	f.Add(uint16(0x8000), uint16(0xffff), uint16(0x8000), uint16(0xffff))
	f.Fuzz(func(t *testing.T, shunt, bus, current, power uint16) {
		b := &regs{r: [6]uint16{0x399f, shunt, bus, power, current, 0}}
		d, err := New(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := d.Sense()
		if err != nil {
			t.Fatal(err)
		}
		if r.Voltage < 0 || r.Voltage > 32764*physic.MilliVolt {
			t.Fatalf("voltage %s outside the 0-32.76 V register range", r.Voltage)
		}
		switch {
		case bus&1 != 0:
			if !r.Overflow || !r.OverCurrent {
				t.Fatalf("overflow flag set, reading %+v", r)
			}
		case r.Overflow:
			t.Fatalf("overflow without the flag: %+v", r)
		case r.OverCurrent != OverLimit(r.Current, DefaultOpts.Limit):
			t.Fatalf("over-current %v for %s against %s", r.OverCurrent, r.Current, DefaultOpts.Limit)
		}
		_ = r.String()
	})
}
