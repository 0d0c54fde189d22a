package led

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi/spitest"
	"periph.io/x/devices/v3/apa102"
	"periph.io/x/devices/v3/nrzled"
)

// panel is an Output that remembers every frame.
type panel struct {
	mu     sync.Mutex
	frames [][]Color
	fail   error
	halted bool
}

func (p *panel) Show(c []Color) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.frames = append(p.frames, slices.Clone(c))
	return nil
}
func (p *panel) Halt() error    { p.mu.Lock(); p.halted = true; p.mu.Unlock(); return nil }
func (p *panel) String() string { return "panel" }
func (p *panel) last() []Color {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.frames) == 0 {
		return nil
	}
	return p.frames[len(p.frames)-1]
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newDev(t *testing.T, out Output, slots int) (*Dev, *clockwork.FakeClock) {
	t.Helper()
	fc := clockwork.NewFakeClock()
	d, err := New(out, &Opts{Slots: slots, Frame: 20 * time.Millisecond, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Halt() })
	return d, fc
}

func TestDevRendersPatternsOnTheClock(t *testing.T) {
	p := &panel{}
	d, fc := newDev(t, p, 3)
	if got := p.last(); !slices.Equal(got, []Color{Dark, Dark, Dark}) {
		t.Fatalf("initial frame %v", got)
	}
	if err := d.SetPattern(0, Blink(Red, time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPattern(2, Alternate(Green, Blue, time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := p.last(); !slices.Equal(got, []Color{Red, Dark, Green}) {
		t.Fatalf("first frame %v", got)
	}
	for _, step := range []struct {
		advance time.Duration
		want    []Color
	}{
		{500 * time.Millisecond, []Color{Dark, Dark, Blue}},
		{500 * time.Millisecond, []Color{Red, Dark, Green}},
		{600 * time.Millisecond, []Color{Dark, Dark, Blue}},
	} {
		fc.Advance(step.advance)
		eventually(t, "frame "+step.want[0].String(), func() bool { return slices.Equal(p.last(), step.want) })
	}
	if d.Shown(2) != Blue || d.Pattern(0) != Blink(Red, time.Second) {
		t.Fatalf("Shown/Pattern: %s %s", d.Shown(2), d.Pattern(0))
	}
	// A static board renders nothing more: no SPI traffic for nothing.
	for i := range 3 {
		if err := d.SetPattern(i, Solid(Amber)); err != nil {
			t.Fatal(err)
		}
	}
	p.mu.Lock()
	n := len(p.frames)
	p.mu.Unlock()
	fc.Advance(10 * time.Second)
	time.Sleep(10 * time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.frames) != n {
		t.Fatalf("%d frames written for an unchanged static board", len(p.frames)-n)
	}
}

func TestDevErrors(t *testing.T) {
	p := &panel{}
	d, _ := newDev(t, p, 2)
	if err := d.SetPattern(2, Solid(Red)); !errors.Is(err, ErrSlot) {
		t.Fatalf("SetPattern(2) = %v, want ErrSlot", err)
	}
	p.mu.Lock()
	p.fail = errors.New("spi: no such device")
	p.mu.Unlock()
	if err := d.SetPattern(1, Solid(Red)); err == nil || d.Err() == nil {
		t.Fatalf("failing output not reported: %v / %v", err, d.Err())
	}
	p.mu.Lock()
	p.fail = nil
	p.mu.Unlock()
	if err := d.SetPattern(1, Solid(Green)); err != nil || d.Err() != nil {
		t.Fatalf("recovered output still failing: %v / %v", err, d.Err())
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if !p.halted || d.Shown(1) != Dark {
		t.Fatal("Halt did not turn the lights off")
	}
	if err := d.SetPattern(0, Solid(Red)); !errors.Is(err, ErrHalted) {
		t.Fatalf("SetPattern after Halt = %v", err)
	}
}

func levels(pins ...*gpiotest.Pin) []gpio.Level {
	var l []gpio.Level
	for _, p := range pins {
		p.Lock()
		l = append(l, p.L)
		p.Unlock()
	}
	return l
}

// countPin counts Out calls, to check unchanged lines are not rewritten.
type countPin struct {
	gpiotest.Pin
	outs int
}

func (c *countPin) Out(l gpio.Level) error { c.outs++; return c.Pin.Out(l) }

func TestGPIOOutput(t *testing.T) {
	mono := &countPin{Pin: gpiotest.Pin{N: "GPIO22", L: gpio.High}}
	r, g, b := &gpiotest.Pin{N: "GPIO23"}, &gpiotest.Pin{N: "GPIO24"}, &gpiotest.Pin{N: "GPIO25"}
	out, err := NewGPIO([][]gpio.PinOut{{mono}, {r, g, b}}, false)
	if err != nil {
		t.Fatal(err)
	}
	H, L := gpio.High, gpio.Low
	for _, tc := range []struct {
		frame []Color
		want  []gpio.Level // mono, r, g, b
	}{
		{[]Color{Dark, Dark}, []gpio.Level{L, L, L, L}},
		{[]Color{Red, Red}, []gpio.Level{H, H, L, L}},
		{[]Color{Blue, Amber}, []gpio.Level{H, H, H, L}},
		{[]Color{{60, 60, 60}, White}, []gpio.Level{L, H, H, H}}, // dim is dark on a discrete LED
	} {
		if err := out.Show(tc.frame); err != nil {
			t.Fatal(err)
		}
		got := append([]gpio.Level{mono.L}, levels(r, g, b)...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Show(%v): levels %v, want %v", tc.frame, got, tc.want)
		}
	}
	before := mono.outs
	_ = out.Show([]Color{Red, White})
	_ = out.Show([]Color{Red, White})
	if mono.outs != before+1 {
		t.Fatalf("mono pin written %d times for one change", mono.outs-before)
	}

	inv := &gpiotest.Pin{N: "GPIO26"}
	outLow, err := NewGPIO([][]gpio.PinOut{{inv}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if levels(inv)[0] != H {
		t.Fatal("active-low LED not off after NewGPIO")
	}
	_ = outLow.Show([]Color{Green})
	if levels(inv)[0] != L {
		t.Fatal("active-low LED not lit")
	}
	if _, err := NewGPIO([][]gpio.PinOut{{r, g}}, false); err == nil {
		t.Fatal("two pins per slot accepted")
	}
}

type deadPin struct{ gpiotest.Pin }

func (*deadPin) Out(gpio.Level) error                  { return errors.New("no such line") }
func (*deadPin) PWM(gpio.Duty, physic.Frequency) error { return nil }

func TestGPIOOutputFailure(t *testing.T) {
	if _, err := NewGPIO([][]gpio.PinOut{{&deadPin{}}}, false); !errors.Is(err, ErrOutput) {
		t.Fatalf("NewGPIO on a dead line = %v, want ErrOutput", err)
	}
}

func TestStripAPA102(t *testing.T) {
	rec := &spitest.Record{}
	opts := apa102.PassThruOpts
	opts.NumPixels = 3
	strip, err := apa102.New(rec, &opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewStrip(strip, 3, []int{2, 0}) // slot 0 on the last pixel
	if err != nil {
		t.Fatal(err)
	}
	d, _ := newDev(t, out, 2)
	if err := d.SetPattern(0, Solid(Red)); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPattern(1, Solid(Blue)); err != nil {
		t.Fatal(err)
	}
	rec.Lock()
	last := rec.Ops[len(rec.Ops)-1].W
	rec.Unlock()
	// Start frame, then per pixel: brightness, blue, green, red.
	want := []byte{0, 0, 0, 0, 0xFF, 255, 0, 0, 0xFF, 0, 0, 0, 0xFF, 0, 0, 255}
	if !slices.Equal(last[:16], want) {
		t.Fatalf("apa102 frame % x, want % x", last[:16], want)
	}
	if _, err := NewStrip(strip, 3, []int{0, 0}); err == nil {
		t.Fatal("two slots on one pixel accepted")
	}
	if _, err := NewStrip(strip, 3, []int{3}); err == nil {
		t.Fatal("pixel outside the strip accepted")
	}
}

// nrzDecode turns periph's 4-bits-per-bit SPI encoding back into bytes.
func nrzDecode(b []byte) []byte {
	var out []byte
	for i := 0; i+4 <= len(b); i += 4 {
		var v byte
		for _, x := range b[i : i+4] {
			for _, nib := range []byte{x >> 4, x & 0xF} {
				v = v<<1 | (nib>>1)&1 // 1110 is a one, 1000 a zero
			}
		}
		out = append(out, v)
	}
	return out
}

func TestStripWS2812(t *testing.T) {
	rec := &spitest.Record{}
	strip, err := nrzled.NewSPI(rec, &nrzled.Opts{NumPixels: 2, Channels: 3, Freq: 2500 * physic.KiloHertz})
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewStrip(strip, 2, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := newDev(t, out, 2)
	if err := d.SetPattern(1, Solid(Color{R: 0x12, G: 0x34, B: 0x56})); err != nil {
		t.Fatal(err)
	}
	rec.Lock()
	last := rec.Ops[len(rec.Ops)-1].W
	rec.Unlock()
	got := nrzDecode(last[3 : 3+4*6])
	want := []byte{0, 0, 0, 0x34, 0x12, 0x56} // GRB order on the wire
	if !slices.Equal(got, want) {
		t.Fatalf("ws2812 pixels % x, want % x", got, want)
	}
}

// The whole SPI conversation of an APA102 strip, replayed: the all-dark
// frame at start, one frame per change, the dark frame of Halt, and nothing
// else (Close fails if a frame is missing, Tx if one is extra).
func TestStripAPA102Playback(t *testing.T) {
	frame := func(px ...[4]byte) []byte {
		b := []byte{0, 0, 0, 0}
		for _, p := range px {
			b = append(b, p[:]...)
		}
		return append(b, 0xFF)
	}
	dark, red, green := [4]byte{0xFF, 0, 0, 0}, [4]byte{0xFF, 0, 0, 255}, [4]byte{0xFF, 0, 255, 0}
	halted := [4]byte{0xE1, 0, 0, 0}
	port := &spitest.Playback{Playback: conntest.Playback{Ops: []conntest.IO{
		{W: frame(dark, dark, dark)},
		{W: frame(dark, dark, red)},   // slot 0 on pixel 2
		{W: frame(green, dark, red)},  // slot 1 on pixel 0
		{W: frame(green, dark, dark)}, // blink: second half of the period
		{W: frame(halted, halted, halted)},
	}}}
	opts := apa102.PassThruOpts
	opts.NumPixels = 3
	strip, err := apa102.New(port, &opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewStrip(strip, 3, []int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	fc := clockwork.NewFakeClock()
	d, err := New(out, &Opts{Slots: 2, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetPattern(0, Blink(Red, time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPattern(1, Solid(Green)); err != nil {
		t.Fatal(err)
	}
	fc.Advance(500 * time.Millisecond)
	eventually(t, "blink off", func() bool { return d.Shown(0) == Dark })
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
}

// readTrap fails the test if an LED line is read back: on the GPIO
// character device that would turn the output into an input.
type readTrap struct {
	gpiotest.Pin
	t *testing.T
}

func (r *readTrap) Read() gpio.Level {
	r.t.Error("LED output pin was read back")
	return gpio.Low
}

func TestGPIONeverReadsOutputs(t *testing.T) {
	pins := []*readTrap{{Pin: gpiotest.Pin{N: "R"}, t: t}, {Pin: gpiotest.Pin{N: "G"}, t: t}, {Pin: gpiotest.Pin{N: "B"}, t: t}}
	out, err := NewGPIO([][]gpio.PinOut{{pins[0], pins[1], pins[2]}}, true)
	if err != nil {
		t.Fatal(err)
	}
	d, fc := newDev(t, out, 1)
	if err := d.SetPattern(0, Alternate(Red, Blue, time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []Color{Blue, Red, Blue} {
		fc.Advance(500 * time.Millisecond)
		eventually(t, "the alternation to show "+want.String(), func() bool { return d.Shown(0) == want })
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	for _, p := range pins {
		p.Lock()
		l := p.L
		p.Unlock()
		if l != gpio.High { // active low: off is High
			t.Errorf("%s left %v after Halt, want High (off)", p.N, l)
		}
	}
}
