package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/berthdock/berth/cloud/wire"
)

// FuzzCommitText throws arbitrary text at every free-text path of Commit:
// it is either refused with an *InvalidError (NUL, invalid UTF-8) or stored
// and read back byte for byte. Never a panic, never a half-written batch.
func FuzzCommitText(f *testing.F) {
	for _, h := range hostile {
		f.Add(h)
	}
	for _, seed := range []string{"", "\x00", "a\x00b", "\xff\xfe", "\xc3", strings.Repeat("x", 300), "?", "$1", "'", `\`, `"`} {
		f.Add(seed)
	}
	be := newSQLite(f)
	s := be.open(f)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, text string) {
		ctx := context.Background()
		dock := fmt.Sprintf("fz-%d", n.Add(1))
		msgs := []Incoming{
			{Env: wire.Envelope{V: 1, ID: "slot", Dock: dock, Time: t0, Type: wire.TypeSlotState},
				Body: &wire.SlotState{Slot: 1, State: wire.SlotFault, Fault: text, Detail: text}},
		}
		if len(text) >= 1 && len(text) <= 128 {
			msgs = append(msgs, Incoming{Env: wire.Envelope{V: 1, ID: text, Dock: dock, Time: t0, Type: wire.TypeCommand},
				Body: &wire.Command{Action: wire.CmdRefresh, By: text}})
		}
		_, err := s.Commit(ctx, msgs)
		clean := utf8.ValidString(text) && !strings.Contains(text, "\x00")
		if !clean {
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("text %q: Commit = %v, want *InvalidError", text, err)
			}
			if sl, err := s.Slots(ctx, dock); err != nil || len(sl) != 0 {
				t.Fatalf("refused batch wrote slots %+v (%v)", sl, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("text %q: Commit: %v", text, err)
		}
		sl, err := s.Slots(ctx, dock)
		if err != nil || len(sl) != 1 || sl[0].State.Detail != text || sl[0].State.Fault != text {
			t.Fatalf("text %q read back as %+v (%v)", text, sl, err)
		}
		if len(msgs) == 2 {
			if got := be.count(t, s, `SELECT count(*) FROM commands WHERE dock = ? AND msg_id = ? AND by_user = ?`, dock, text, text); got != 1 {
				t.Fatalf("command with id/by %q stored %d times", text, got)
			}
		}
	})
}

// FuzzParseCaseCursor: an API's "after" parameter either is refused with
// ErrArgument or reads as a cursor whose text form reads back the same.
func FuzzParseCaseCursor(f *testing.F) {
	for _, s := range []string{"1764468000000000000.5.R1", "0.0.x", "-1.2.a.b", "1.2.", "", "9.18446744073709551615.R", "1.2.R\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCaseCursor(s)
		if err != nil {
			if !errors.Is(err, ErrArgument) {
				t.Fatalf("%q: %v is not ErrArgument", s, err)
			}
			return
		}
		if cleanText(c.Serial) != nil {
			t.Fatalf("%q: a cursor naming serial %q (not NUL-free UTF-8) accepted", s, c.Serial)
		}
		again, err := ParseCaseCursor(c.String())
		if err != nil || again != c {
			t.Fatalf("%q reads as %+v, whose text %q reads as %+v (%v)", s, c, c.String(), again, err)
		}
	})
}
