package chargesense

import "testing"

// BenchmarkSense is the driver's own cost of one reading (four register
// reads through periph's ina219 and the cut-off check) over a bus that
// answers at once; on a dock the 400 kHz I2C transfers dominate.
func BenchmarkSense(b *testing.B) {
	bus := &regs{r: [6]uint16{0x399f, 1500, 1250<<3 | 2, 1000, 15360, 0}}
	d, err := New(bus, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Sense(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
