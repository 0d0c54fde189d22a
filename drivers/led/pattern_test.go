package led

import (
	"testing"
	"time"
)

func TestPatternAt(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		p       Pattern
		elapsed time.Duration
		want    Color
	}{
		{Off(), 0, Dark},
		{Off(), time.Hour, Dark},
		{Solid(Green), 0, Green},
		{Solid(Green), 3 * time.Hour, Green},
		{Blink(Red, time.Second), 0, Red},
		{Blink(Red, time.Second), 499 * ms, Red},
		{Blink(Red, time.Second), 500 * ms, Dark},
		{Blink(Red, time.Second), 999 * ms, Dark},
		{Blink(Red, time.Second), 1000 * ms, Red},
		{Blink(Red, 0), 600 * ms, Dark}, // default period 1 s
		{Alternate(Red, Blue, 2*time.Second), 0, Red},
		{Alternate(Red, Blue, 2*time.Second), 1500 * ms, Blue},
		{Alternate(Red, Blue, 2*time.Second), 2100 * ms, Red},
		{Pulse(White, time.Second), 0, Dark},
		{Pulse(White, time.Second), 250 * ms, Color{127, 127, 127}},
		{Pulse(White, time.Second), 500 * ms, White},
		{Pulse(White, time.Second), 750 * ms, Color{127, 127, 127}},
		{Pulse(Amber, time.Second), 500 * ms, Amber},
		{Solid(Red), -time.Second, Red},
	} {
		if got := tc.p.At(tc.elapsed); got != tc.want {
			t.Errorf("%s.At(%s) = %s, want %s", tc.p, tc.elapsed, got, tc.want)
		}
	}
}

func TestPatternString(t *testing.T) {
	for _, tc := range []struct {
		p    Pattern
		want string
	}{
		{Off(), "off"},
		{Solid(Red), "solid(red)"},
		{Blink(Amber, 0), "blink(amber,1s)"},
		{Pulse(Color{1, 2, 3}, 2*time.Second), "pulse(#010203,2s)"},
		{Alternate(Red, Green, 500*time.Millisecond), "alternate(red,green,500ms)"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
