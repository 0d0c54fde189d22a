package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/store/pgtest"
	"github.com/berthdock/berth/cloud/wire"
)

var t0 = time.Date(2026, 11, 24, 22, 5, 0, 123456789, time.UTC)

// backend opens stores on one fresh database: a temp SQLite file, or a
// uniquely named PostgreSQL schema dropped at cleanup.
type backend struct {
	name   string
	dsn    string
	schema string
	clock  *clockwork.FakeClock
}

func (b *backend) opts() *Opts {
	return &Opts{Schema: b.schema, Clock: b.clock, Logger: testLogger, MaxConns: 4}
}

func (b *backend) open(t testing.TB) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, b.dsn, b.opts())
	if err != nil {
		t.Fatalf("Open(%s): %v", b.name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// raw runs a query on the backend outside the Store, for assertions.
func (b *backend) count(t testing.TB, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(), s.d.q(query), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func newSQLite(t testing.TB) *backend {
	return &backend{name: "sqlite", dsn: "sqlite://" + filepath.Join(t.TempDir(), "berth.db"),
		clock: clockwork.NewFakeClockAt(t0.Add(time.Hour))}
}

func newPG(t testing.TB) *backend {
	t.Helper()
	return &backend{name: "postgres", dsn: pgtest.DSN(), schema: pgtest.Schema(t, "berth_store"), clock: clockwork.NewFakeClockAt(t0.Add(time.Hour))}
}

// both runs fn against SQLite and PostgreSQL, each on its own fresh database.
func both(t *testing.T, fn func(t *testing.T, b *backend)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, newSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, newPG(t)) })
}

// Message builders.

func msg(t testing.TB, dock, id string, at time.Time, body wire.Body) Incoming {
	t.Helper()
	typ := map[string]string{
		"*wire.DockState": wire.TypeDockState, "*wire.SlotState": wire.TypeSlotState,
		"*wire.DeviceHealth": wire.TypeDeviceHealth, "*wire.SegmentManifest": wire.TypeSegmentManifest,
		"*wire.AuditRecord": wire.TypeAuditRecord, "*wire.Ack": wire.TypeAck, "*wire.Command": wire.TypeCommand,
		"*wire.Docking": wire.TypeDocking, "*wire.FirmwareProgress": wire.TypeFirmware, "*wire.RecorderEvents": wire.TypeRecorderEvents, "*wire.Checkout": wire.TypeCheckout,
	}[fmt.Sprintf("%T", body)]
	env, err := wire.NewEnvelope(id, dock, at, typ, body)
	if err != nil {
		t.Fatal(err)
	}
	// Round-trip through the wire decoder, as ingest does.
	got, err := wire.DecodeBody(env)
	if err != nil {
		t.Fatalf("fixture %s does not decode: %v", id, err)
	}
	return Incoming{Env: env, Body: got}
}

func hash64(s string) string {
	h := make([]byte, 32)
	copy(h, s)
	return hex.EncodeToString(h)
}

func manifest(serial string, seq uint64, start time.Time, offsetMs int64) *wire.SegmentManifest {
	return &wire.SegmentManifest{Serial: serial, Seq: seq, Start: start, End: start.Add(5 * time.Minute), Size: 1 << 20,
		SHA256: hash64(fmt.Sprintf("%s/%d", serial, seq)), StopCause: wire.StopAutoSplit, Officer: "o-1001",
		CaseTag: "case-1", Media: "h264/aac", ClockOffsetMs: offsetMs, ClockSyncedAt: t0, State: wire.SegBuffered}
}

func health(serial string, at time.Time) *wire.DeviceHealth {
	return &wire.DeviceHealth{Serial: serial, Model: "BWC-9", Firmware: "2.1.0", Officer: "o-1001", Unit: "unit-3",
		Slot: 2, DockedAt: at, Battery: wire.Battery{MilliVolts: 4100, Percent: 80, HealthPct: 91, Cycles: 120,
			TemperatureC: 31.5}, Storage: wire.Storage{TotalBytes: 64 << 30, FreeBytes: 40 << 30, HealthPct: 98},
		DeviceClock: at.Add(1500 * time.Millisecond), DockClock: at, ClockOffsetMs: 1500, ClockSet: true}
}

// chain returns n sealed audit records of dock.
func chain(t testing.TB, dock string, n int) []*wire.AuditRecord {
	t.Helper()
	var out []*wire.AuditRecord
	var prev *wire.AuditRecord
	for i := range n {
		r := &wire.AuditRecord{Time: t0.Add(time.Duration(i) * time.Second), Action: wire.AuditCopied, Slot: i % 4,
			Serial: "R1", Seq: uint64(i), Detail: fmt.Sprintf("copied segment %d", i)}
		if err := r.Seal(dock, prev); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		prev = r
	}
	return out
}

func commit(t testing.TB, s *Store, msgs ...Incoming) []bool {
	t.Helper()
	dup, err := s.Commit(context.Background(), msgs)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if len(dup) != len(msgs) {
		t.Fatalf("Commit returned %d dup flags for %d messages", len(dup), len(msgs))
	}
	return dup
}

// testLogger discards, unless BERTH_STORE_DEBUG is set (to see retries).
var testLogger = func() *slog.Logger {
	if os.Getenv("BERTH_STORE_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}()
