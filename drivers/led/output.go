package led

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3/gpio"
)

// ErrOutput wraps a failure of the LED hardware (a GPIO line or a strip).
var ErrOutput = errors.New("led: output failed")

// Output shows one colour per slot. GPIO and Strip implement it; so can a
// simulated panel.
type Output interface {
	// Show displays colors[i] on slot i. len(colors) is the slot count.
	Show(colors []Color) error
	// Halt turns every light off.
	Halt() error
	String() string
}

// GPIO drives discrete LEDs: per slot either one pin (a single-colour LED,
// lit for any colour with a channel at half brightness or more) or three
// pins (red, green, blue). Levels are kept in software and only changed
// lines are written; outputs are never read back.
type GPIO struct {
	slots     [][]gpio.PinOut
	activeLow bool
	levels    [][]gpio.Level
	known     bool
}

var _ Output = (*GPIO)(nil)

// NewGPIO takes per-slot pins (1 or 3 per slot) and turns them all off.
func NewGPIO(slots [][]gpio.PinOut, activeLow bool) (*GPIO, error) {
	g := &GPIO{slots: slots, activeLow: activeLow, levels: make([][]gpio.Level, len(slots))}
	for i, pins := range slots {
		if len(pins) != 1 && len(pins) != 3 {
			return nil, fmt.Errorf("led: slot %d has %d pins, want 1 (single colour) or 3 (red, green, blue)", i, len(pins))
		}
		for j, p := range pins {
			if p == nil {
				return nil, fmt.Errorf("led: slot %d pin %d is nil", i, j)
			}
		}
		g.levels[i] = make([]gpio.Level, len(pins))
	}
	if err := g.Halt(); err != nil {
		return nil, err
	}
	return g, nil
}

// String lists the pins.
func (g *GPIO) String() string { return fmt.Sprintf("led.GPIO%v", g.slots) }

// Show implements Output.
func (g *GPIO) Show(colors []Color) error {
	var errs []error
	for i, pins := range g.slots {
		c := Dark
		if i < len(colors) {
			c = colors[i]
		}
		want := []bool{max(c.R, c.G, c.B) >= 128}
		if len(pins) == 3 {
			want = []bool{c.R >= 128, c.G >= 128, c.B >= 128}
		}
		for j, p := range pins {
			l := gpio.Level(want[j] != g.activeLow)
			if g.known && g.levels[i][j] == l {
				continue
			}
			if err := p.Out(l); err != nil {
				errs = append(errs, fmt.Errorf("%w: slot %d %s: %w", ErrOutput, i, p, err))
				continue
			}
			g.levels[i][j] = l
		}
	}
	if len(errs) == 0 {
		g.known = true
	}
	return errors.Join(errs...)
}

// Halt implements Output: every LED off.
func (g *GPIO) Halt() error {
	g.known = false
	return g.Show(nil)
}

// PixelWriter is an addressable strip taking raw RGB bytes: periph's
// apa102.Dev and nrzled.Dev (WS2812) both are.
type PixelWriter interface {
	Write(rgb []byte) (int, error)
	Halt() error
	String() string
}

// Strip shows each slot on one pixel of an addressable strip.
type Strip struct {
	w     PixelWriter
	index []int
	buf   []byte
}

var _ Output = (*Strip)(nil)

// NewStrip maps slot i to pixel index[i] of a strip of numPixels pixels.
func NewStrip(w PixelWriter, numPixels int, index []int) (*Strip, error) {
	if w == nil {
		return nil, errors.New("led: nil strip")
	}
	if numPixels <= 0 {
		return nil, fmt.Errorf("led: strip needs at least one pixel, got %d", numPixels)
	}
	seen := map[int]int{}
	for slot, px := range index {
		if px < 0 || px >= numPixels {
			return nil, fmt.Errorf("led: slot %d uses pixel %d outside the strip's %d pixels", slot, px, numPixels)
		}
		if other, ok := seen[px]; ok {
			return nil, fmt.Errorf("led: slot %d uses pixel %d already used by slot %d", slot, px, other)
		}
		seen[px] = slot
	}
	return &Strip{w: w, index: index, buf: make([]byte, 3*numPixels)}, nil
}

// String names the strip.
func (s *Strip) String() string { return "led.Strip{" + s.w.String() + "}" }

// Show implements Output: one write of the whole strip.
func (s *Strip) Show(colors []Color) error {
	clear(s.buf)
	for slot, px := range s.index {
		if slot < len(colors) {
			c := colors[slot]
			s.buf[3*px], s.buf[3*px+1], s.buf[3*px+2] = c.R, c.G, c.B
		}
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutput, s.w, err)
	}
	return nil
}

// Halt implements Output.
func (s *Strip) Halt() error {
	if err := s.w.Halt(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrOutput, s.w, err)
	}
	return nil
}
