package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ms, err := loadMigrations()
		if err != nil {
			t.Fatal(err)
		}
		// Several collectors start at once on an empty database.
		const n = 4
		stores := make([]*Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				stores[i], errs[i] = Open(context.Background(), b.dsn, b.opts())
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("concurrent Open %d: %v", i, err)
			}
			t.Cleanup(func() { stores[i].Close() })
		}
		// And again, sequentially.
		s := b.open(t)
		v, err := s.SchemaVersion(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := ms[len(ms)-1].version; v != want {
			t.Errorf("schema version %d, want %d", v, want)
		}
		if got := b.count(t, s, `SELECT count(*) FROM schema_migrations`); got != len(ms) {
			t.Errorf("schema_migrations has %d rows, want %d (each migration once)", got, len(ms))
		}
	})
}

func TestNewerSchemaRefused(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		if _, err := s.db.Exec(s.d.q(`INSERT INTO schema_migrations (version, name, applied_ns) VALUES (?, ?, ?)`),
			9999, "from-the-future", 1); err != nil {
			t.Fatal(err)
		}
		s2, err := Open(context.Background(), b.dsn, b.opts())
		if err == nil {
			s2.Close()
			t.Fatal("Open accepted a database migrated by a newer collector")
		}
		if !errors.Is(err, ErrMigration) {
			t.Errorf("Open = %v, want ErrMigration", err)
		}
	})
}

func TestSQLitePathWithOddCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a b#c?d%41")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{filepath.Join(dir, "x y.db"), "sqlite://" + filepath.Join(dir, "z.db")} {
		s, err := Open(context.Background(), dsn, &Opts{Logger: testLogger})
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		s.Close()
	}
	for _, name := range []string{"x y.db", "z.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("database file not where asked: %v", err)
		}
	}
}

func TestOpenBadDSN(t *testing.T) {
	for _, dsn := range []string{"", "sqlite://", ":memory:", "sqlite://file::memory:", "postgres://%zz"} {
		t.Run(dsn, func(t *testing.T) {
			s, err := Open(context.Background(), dsn, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", dsn)
			}
			if !errors.Is(err, ErrDSN) {
				t.Errorf("Open(%q) = %v, want ErrDSN", dsn, err)
			}
		})
	}
}

func TestCommitIdempotent(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		var batch []Incoming
		for i := range 20 {
			batch = append(batch, msg(t, "dock-1", fmt.Sprintf("m%03d", i), t0.Add(time.Duration(i)*time.Second),
				&wire.SlotState{Slot: i % 4, State: wire.SlotCopying, Serial: "R1", Segments: i}))
		}
		for i, d := range commit(t, s, batch...) {
			if d {
				t.Errorf("first commit: message %d reported duplicate", i)
			}
		}
		// Redelivery of the whole batch, plus one new message repeated inside
		// the batch.
		extra := msg(t, "dock-1", "m999", t0, &wire.SlotState{Slot: 7, State: wire.SlotEmpty})
		again := append(append([]Incoming{}, batch...), extra, extra)
		dup := commit(t, s, again...)
		for i := range batch {
			if !dup[i] {
				t.Errorf("redelivered message %d not reported duplicate", i)
			}
		}
		if dup[len(batch)] || !dup[len(batch)+1] {
			t.Errorf("in-batch repeat: dup = %v, %v; want false, true", dup[len(batch)], dup[len(batch)+1])
		}
		if n := b.count(t, s, `SELECT count(*) FROM messages`); n != 21 {
			t.Errorf("messages rows %d, want 21", n)
		}
		// The same id from another dock is another message.
		if d := commit(t, s, msg(t, "dock-2", "m000", t0, &wire.SlotState{Slot: 0, State: wire.SlotEmpty})); d[0] {
			t.Error("same id on another dock reported duplicate")
		}
		slots, err := s.Slots(context.Background(), "dock-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(slots) != 5 {
			t.Fatalf("dock-1 has %d slots, want 5", len(slots))
		}
		// Slot 0 got messages 0, 4, 8, 12, 16: the newest wins.
		if slots[0].State.Segments != 16 || !slots[0].UpdatedAt.Equal(t0.Add(16*time.Second)) {
			t.Errorf("slot 0 = %+v at %s, want segments 16", slots[0].State, slots[0].UpdatedAt)
		}
	})
}

func TestCommitInvalid(t *testing.T) {
	good := func(t *testing.T) Incoming {
		return msg(t, "dock-1", "ok", t0, &wire.SlotState{Slot: 1, State: wire.SlotEmpty})
	}
	cases := []struct {
		name string
		mk   func(t *testing.T) Incoming
	}{
		{"nil body", func(t *testing.T) Incoming { m := good(t); m.Body = nil; return m }},
		{"type mismatch", func(t *testing.T) Incoming { m := good(t); m.Env.Type = wire.TypeDockState; return m }},
		{"bad dock", func(t *testing.T) Incoming { m := good(t); m.Env.Dock = "../etc"; return m }},
		{"empty id", func(t *testing.T) Incoming { m := good(t); m.Env.ID = ""; return m }},
		{"NUL in id", func(t *testing.T) Incoming { m := good(t); m.Env.ID = "a\x00b"; return m }},
		{"invalid utf8 detail", func(t *testing.T) Incoming {
			return Incoming{Env: wire.Envelope{V: 1, ID: "x", Dock: "dock-1", Time: t0, Type: wire.TypeSlotState},
				Body: &wire.SlotState{Slot: 1, State: wire.SlotFault, Detail: "\xff\xfe"}}
		}},
		{"seq beyond int64", func(t *testing.T) Incoming {
			return Incoming{Env: wire.Envelope{V: 1, ID: "x", Dock: "dock-1", Time: t0, Type: wire.TypeSegmentManifest},
				Body: manifest("R1", 1<<63, t0, 0)}
		}},
		{"NaN temperature", func(t *testing.T) Incoming {
			h := health("R1", t0)
			h.Battery.TemperatureC = math.NaN()
			return Incoming{Env: wire.Envelope{V: 1, ID: "x", Dock: "dock-1", Time: t0, Type: wire.TypeDeviceHealth}, Body: h}
		}},
		{"clock offset beyond range", func(t *testing.T) Incoming {
			return Incoming{Env: wire.Envelope{V: 1, ID: "x", Dock: "dock-1", Time: t0, Type: wire.TypeSegmentManifest},
				Body: manifest("R1", 1, t0, maxOffsetMs+1)}
		}},
		{"body fails Validate", func(t *testing.T) Incoming {
			return Incoming{Env: wire.Envelope{V: 1, ID: "x", Dock: "dock-1", Time: t0, Type: wire.TypeSlotState},
				Body: &wire.SlotState{Slot: -1, State: "bogus"}}
		}},
	}
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := s.Commit(context.Background(), []Incoming{good(t), c.mk(t)})
				var ie *InvalidError
				if !errors.As(err, &ie) || ie.Index != 1 || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Commit = %v, want *InvalidError at index 1", err)
				}
			})
		}
		if n := b.count(t, s, `SELECT count(*) FROM messages`); n != 0 {
			t.Errorf("a refused batch wrote %d messages", n)
		}
	})
}
