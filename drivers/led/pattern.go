package led

import (
	"fmt"
	"time"
)

// Color is an RGB colour, 8 bits per channel.
type Color struct{ R, G, B uint8 }

// Named colours the dock uses. Discrete single-colour LEDs show any
// non-dark colour as "lit".
var (
	Dark   = Color{}
	Red    = Color{R: 255}
	Green  = Color{G: 255}
	Blue   = Color{B: 255}
	Amber  = Color{R: 255, G: 160}
	White  = Color{R: 255, G: 255, B: 255}
	colors = map[Color]string{Dark: "dark", Red: "red", Green: "green", Blue: "blue", Amber: "amber", White: "white"}
)

func (c Color) String() string {
	if n, ok := colors[c]; ok {
		return n
	}
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

// scale returns c at brightness num/den.
func (c Color) scale(num, den int64) Color {
	f := func(v uint8) uint8 { return uint8(int64(v) * num / den) }
	return Color{f(c.R), f(c.G), f(c.B)}
}

// Kind names a pattern.
type Kind int

// The patterns an indicator can show.
const (
	KindOff       Kind = iota // dark
	KindSolid                 // A, steadily
	KindBlink                 // A for half the period, dark for the other half
	KindPulse                 // A fading in and out over the period
	KindAlternate             // A for half the period, B for the other half
)

func (k Kind) String() string {
	switch k {
	case KindOff:
		return "off"
	case KindSolid:
		return "solid"
	case KindBlink:
		return "blink"
	case KindPulse:
		return "pulse"
	case KindAlternate:
		return "alternate"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Pattern is what a slot's indicator shows over time. The zero Pattern is
// off. Build patterns with Off, Solid, Blink, Pulse and Alternate.
type Pattern struct {
	Kind   Kind
	A, B   Color
	Period time.Duration // one full cycle; DefaultPeriod when zero
}

// DefaultPeriod is the cycle of an animated pattern built with a zero period.
const DefaultPeriod = time.Second

// Off is the dark pattern.
func Off() Pattern { return Pattern{} }

// Solid shows c steadily.
func Solid(c Color) Pattern { return Pattern{Kind: KindSolid, A: c} }

// Blink shows c for half of period and dark for the other half.
func Blink(c Color, period time.Duration) Pattern {
	return Pattern{Kind: KindBlink, A: c, Period: period}
}

// Pulse fades c in and out once per period.
func Pulse(c Color, period time.Duration) Pattern {
	return Pattern{Kind: KindPulse, A: c, Period: period}
}

// Alternate shows a for half of period and b for the other half.
func Alternate(a, b Color, period time.Duration) Pattern {
	return Pattern{Kind: KindAlternate, A: a, B: b, Period: period}
}

func (p Pattern) String() string {
	switch p.Kind {
	case KindOff:
		return "off"
	case KindSolid:
		return "solid(" + p.A.String() + ")"
	case KindAlternate:
		return fmt.Sprintf("alternate(%s,%s,%s)", p.A, p.B, p.period())
	}
	return fmt.Sprintf("%s(%s,%s)", p.Kind, p.A, p.period())
}

func (p Pattern) period() time.Duration {
	if p.Period <= 0 {
		return DefaultPeriod
	}
	return p.Period
}

// animated reports whether the colour changes over time.
func (p Pattern) animated() bool {
	return p.Kind == KindBlink || p.Kind == KindPulse || p.Kind == KindAlternate
}

// At returns the colour shown elapsed after the pattern was set.
func (p Pattern) At(elapsed time.Duration) Color {
	if elapsed < 0 {
		elapsed = 0
	}
	per := p.period()
	phase := elapsed % per
	first := phase < per/2
	switch p.Kind {
	case KindSolid:
		return p.A
	case KindBlink:
		if first {
			return p.A
		}
		return Dark
	case KindAlternate:
		if first {
			return p.A
		}
		return p.B
	case KindPulse:
		// Triangle: dark at the start of the cycle, full at mid-period.
		half := int64(per / 2)
		x := int64(phase)
		if x > half {
			x = int64(per) - x
		}
		return p.A.scale(x, half)
	}
	return Dark
}
