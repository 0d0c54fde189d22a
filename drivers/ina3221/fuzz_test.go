package ina3221

import (
	"fmt"
	"testing"

	"periph.io/x/conn/v3/physic"
)

// regs is an I2C bus with one INA3221 whose measurement registers hold
// what the fuzzer chose.
type regs struct{ r [0x10]uint16 }

func (b *regs) String() string                  { return "fuzz" }
func (b *regs) SetSpeed(physic.Frequency) error { return nil }
func (b *regs) Tx(addr uint16, w, r []byte) error {
	if addr != 0x40 || len(w) == 0 {
		return fmt.Errorf("no acknowledge %#x %x", addr, w)
	}
	switch {
	case len(w) == 3:
		return nil
	case w[0] == 0xFE:
		r[0], r[1] = 0x54, 0x49
	case w[0] == 0xFF:
		r[0], r[1] = 0x32, 0x20
	case int(w[0]) < len(b.r):
		r[0], r[1] = byte(b.r[w[0]]>>8), byte(b.r[w[0]])
	default:
		return fmt.Errorf("no register %#x", w[0])
	}
	return nil
}

// FuzzSense: any register contents decode without panic into a shunt
// voltage within the chip's ±163.84 mV range, a current of the same sign,
// and Saturated exactly at the range ends; Critical reports CF bits only.
func FuzzSense(f *testing.F) {
	f.Add(uint8(1), uint16(2125<<3), uint16(631<<3), uint16(1<<9))
	f.Add(uint8(3), uint16(0x7FF8), uint16(500<<3), uint16(0xFFFF))
	f.Add(uint8(2), uint16(0x8000), uint16(0xFFFF), uint16(0))
	f.Add(uint8(1), uint16(0x7FFF), uint16(625<<3), uint16(0)) // stray low bits at full scale
	f.Fuzz(func(t *testing.T, chb uint8, shunt, bus, mask uint16) {
		ch := int(chb%3) + 1
		b := &regs{}
		b.r[2*ch-1], b.r[2*ch], b.r[0x0F] = shunt, bus, mask
		d, err := New(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := d.Sense(ch)
		if err != nil {
			t.Fatal(err)
		}
		if r.Shunt > 163800*physic.MicroVolt || r.Shunt < -163840*physic.MicroVolt {
			t.Fatalf("shunt %s outside ±163.84 mV", r.Shunt)
		}
		if (r.Current < 0) != (r.Shunt < 0) {
			t.Fatalf("current %s and shunt %s disagree in sign", r.Current, r.Shunt)
		}
		if steps := int16(shunt) >> 3; r.Saturated != (steps == 4095 || steps == -4096) {
			t.Fatalf("saturated=%v for shunt register %#04x", r.Saturated, shunt)
		}
		crit, err := d.Critical(ch)
		if err != nil {
			t.Fatal(err)
		}
		if want := mask&(1<<(10-ch)) != 0; crit != want {
			t.Fatalf("Critical(%d) = %v for mask %#04x", ch, crit, mask)
		}
		_ = r.String()
	})
}
