package buffer

import (
	"errors"
	"testing"
	"time"
)

// TestEventCursorSurvivesReopen: the event-log cursor is kept per recorder
// across a restart, and a bad serial is refused.
func TestEventCursorSurvivesReopen(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	if c, err := b.EventCursor("R1"); err != nil || c.Index != 0 {
		t.Fatalf("fresh cursor %+v, %v", c, err)
	}
	at := t0.Add(90 * time.Minute).Add(123 * time.Nanosecond)
	if err := b.SetEventCursor("R1", EventCursor{Index: 42, Time: at}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetEventCursor("R12", EventCursor{Index: 7, Time: t0}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetEventCursor("a/b", EventCursor{Index: 1}); err == nil {
		t.Error("a bad serial was accepted")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.SetEventCursor("R1", EventCursor{Index: 43}); !errors.Is(err, ErrClosed) {
		t.Errorf("set on a closed buffer: %v", err)
	}
	b = f.open(t)
	defer b.Close()
	c, err := b.EventCursor("R1")
	if err != nil || c.Index != 42 || !c.Time.Equal(at) {
		t.Fatalf("after reopen: %+v, %v", c, err)
	}
	if c, _ := b.EventCursor("R12"); c.Index != 7 {
		t.Errorf("R12's cursor %+v: serials must not share keys", c)
	}
}
