package led

import (
	"io"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi/spitest"
	"periph.io/x/devices/v3/apa102"
	"periph.io/x/devices/v3/nrzled"
)

// benchStrip renders a full animated frame of n slots and encodes it for
// the strip, as the render loop does at every frame; frames/s shows the
// headroom over the 50 Hz refresh on a small board.
func benchStrip(b *testing.B, w PixelWriter, n int) {
	index := make([]int, n)
	for i := range index {
		index[i] = i
	}
	out, err := NewStrip(w, n, index)
	if err != nil {
		b.Fatal(err)
	}
	patterns := make([]Pattern, n)
	for i := range patterns {
		patterns[i] = Pulse(Color{uint8(i), 128, 255}, time.Second)
	}
	frame := make([]Color, n)
	b.SetBytes(int64(3 * n))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for s, p := range patterns {
			frame[s] = p.At(time.Duration(i) * 20 * time.Millisecond)
		}
		if err := out.Show(frame); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func BenchmarkStripAPA102(b *testing.B) {
	o := apa102.PassThruOpts
	o.NumPixels = 150
	w, err := apa102.New(spitest.NewRecordRaw(io.Discard), &o)
	if err != nil {
		b.Fatal(err)
	}
	benchStrip(b, w, 150)
}

func BenchmarkStripWS2812(b *testing.B) {
	w, err := nrzled.NewSPI(spitest.NewRecordRaw(io.Discard), &nrzled.Opts{NumPixels: 150, Channels: 3, Freq: 2500 * physic.KiloHertz})
	if err != nil {
		b.Fatal(err)
	}
	benchStrip(b, w, 150)
}
