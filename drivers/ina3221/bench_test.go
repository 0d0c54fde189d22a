package ina3221

import "testing"

// BenchmarkSenseAndCritical is one slot's poll on an INA3221 channel
// (shunt, bus and the latched critical flags) over a bus that answers at
// once: the driver's own cost, without the I2C transfer time.
func BenchmarkSenseAndCritical(b *testing.B) {
	bus := &regs{}
	bus.r[1], bus.r[2], bus.r[0x0F] = 2125<<3, 631<<3, 0x0002
	d, err := New(bus, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Sense(1); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Critical(1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "polls/s")
}
