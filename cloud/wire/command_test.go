package wire

import (
	"errors"
	"strings"
	"testing"
)

// A release-hole command names the recorder, a missing range, who decided
// and why; anything less is invalid.
func TestReleaseHoleCommand(t *testing.T) {
	ok := Command{Action: CmdReleaseHole, Serial: "R1", From: 3, To: 4, By: "chief", Reason: "recorder dropped in water; seq 3-4 lost"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Command){
		"no serial":       func(c *Command) { c.Serial = "" },
		"bad serial":      func(c *Command) { c.Serial = "R 1" },
		"from zero":       func(c *Command) { c.From = 0 },
		"reversed":        func(c *Command) { c.From, c.To = 5, 4 },
		"no reason":       func(c *Command) { c.Reason = "" },
		"reason too long": func(c *Command) { c.Reason = strings.Repeat("x", MaxReason+1) },
		"nobody decided":  func(c *Command) { c.By = "" },
		"beyond int64":    func(c *Command) { c.To = 1 << 63 },
	} {
		c := ok
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	e, err := NewEnvelope("m1", "dock-1", t0, TypeCommand, &ok)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeBody(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := *b.(*Command); got != ok {
		t.Fatalf("round trip %+v, want %+v", got, ok)
	}
}
