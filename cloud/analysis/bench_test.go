package analysis

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/timeline"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// memStore is the engine's Store held in memory, so the benchmark measures
// the engine (timelines, findings, alert building and deduplication) and
// not SQL. It also counts what the engine asked of it.
type memStore struct {
	devs   []store.Device
	docks  []store.Dock
	segs   map[string][]store.Segment
	health map[string][]store.HealthRecord
	alerts map[string]store.Alert
	nextID int64
	// mu guards alerts and nextID (the engine judges with several
	// goroutines); claimed is the ClaimWork cursor.
	mu      sync.Mutex
	claimed int
}

// ClaimWork hands out every recorder once per pass: the benchmark
// measures judging all of them.
func (m *memStore) ClaimWork(_ context.Context, _ string, _ time.Duration, limit int) ([]store.Work, error) {
	if m.claimed >= len(m.devs) {
		m.claimed = 0
		return nil, nil
	}
	var out []store.Work
	for _, d := range m.devs[m.claimed:min(len(m.devs), m.claimed+limit)] {
		out = append(out, store.Work{Serial: d.Serial, Gen: 1})
	}
	m.claimed += len(out)
	return out, nil
}
func (m *memStore) Judged(context.Context, string, []store.Judgement) error    { return nil }
func (m *memStore) RetryWork(context.Context, string, string, time.Time) error { return nil }
func (m *memStore) DevicesOf(_ context.Context, serials []string) ([]store.Device, error) {
	var out []store.Device
	for _, d := range m.devs {
		if slices.Contains(serials, d.Serial) {
			d.Unit = m.docks[0].Unit // as the store does: the unit of the dock that docked it
			out = append(out, d)
		}
	}
	return out, nil
}
func (m *memStore) Docks(context.Context) ([]store.Dock, error) { return m.docks, nil }
func (m *memStore) SegmentsOf(_ context.Context, spans []store.Span) (map[string][]store.Segment, error) {
	out := map[string][]store.Segment{}
	for _, sp := range spans {
		out[sp.Serial] = m.segs[sp.Serial]
	}
	return out, nil
}
func (m *memStore) DeviceHealthOf(_ context.Context, spans []store.Span) (map[string][]store.HealthRecord, error) {
	out := map[string][]store.HealthRecord{}
	for _, sp := range spans {
		out[sp.Serial] = m.health[sp.Serial]
	}
	return out, nil
}
func (m *memStore) UpsertAlert(_ context.Context, a store.Alert) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.alerts[a.Key]; ok {
		if old.State != store.AlertClosed {
			a.ID, a.State = old.ID, old.State
			m.alerts[a.Key] = a
		}
		return false, nil
	}
	m.nextID++
	a.ID, a.State = m.nextID, store.AlertOpen
	m.alerts[a.Key] = a
	return true, nil
}
func (m *memStore) UpsertAlerts(ctx context.Context, as []store.Alert) ([]bool, error) {
	created := make([]bool, len(as))
	for i, a := range as {
		created[i], _ = m.UpsertAlert(ctx, a)
	}
	return created, nil
}
func (m *memStore) ClaimAnnouncements(context.Context, []string) (map[string]bool, error) {
	return nil, nil
}
func (m *memStore) AlertByKey(_ context.Context, key string) (store.Alert, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.alerts[key]
	return a, ok, nil
}
func (m *memStore) AlertsByKeys(_ context.Context, keys []string) (map[string]store.Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]store.Alert{}
	for _, k := range keys {
		if a, ok := m.alerts[k]; ok {
			out[k] = a
		}
	}
	return out, nil
}
func (m *memStore) LiveAlertsOf(context.Context, []string) (map[string][]store.Alert, error) {
	return nil, nil // as Alerts: the benchmark closes nothing
}
func (m *memStore) Alerts(context.Context, store.AlertFilter) ([]store.Alert, error) { return nil, nil }
func (m *memStore) CloseAlert(context.Context, int64, string) error                  { return nil }
func (m *memStore) EscalateOnce(context.Context, int64, int) (bool, error)           { return false, nil }
func (m *memStore) ClaimAnnouncement(context.Context, string) (bool, error)          { return false, nil }
func (m *memStore) Unannounced(context.Context, int) ([]store.Alert, error)          { return nil, nil }
func (m *memStore) InventoryOf(context.Context, []store.Span) (map[string][]store.Inventoried, error) {
	return nil, nil // the benchmark's docks send no inventory: judged on what arrived
}
func (m *memStore) RecorderEventsOf(context.Context, []store.Span) (map[string][]store.RecorderEvent, error) {
	return nil, nil // nor event logs
}
func (m *memStore) AssignmentsOf(context.Context, []store.Span) (map[string][]store.Assignment, error) {
	return nil, nil // nor checkouts
}
func (m *memStore) DockingsOf(context.Context, []string) (map[string]store.DockingSummary, error) {
	return nil, nil
}
func (m *memStore) Slots(context.Context, string) ([]store.Slot, error)     { return nil, nil }
func (m *memStore) AuditBreaks(context.Context) ([]store.AuditBreak, error) { return nil, nil }
func (m *memStore) LateArrivalsOf(context.Context, []string, time.Time, time.Time) (map[string]time.Time, error) {
	return nil, nil
}

// fleet makes recorders × per segments of a plausible week: ten-minute
// segments joined by automatic splits, a user stop with a 30 min break
// after every tenth, a low-battery stop resumed 2 min later after every
// 25th (an interruption: 4 % of segments), received an hour after
// recording, one docking per recorder with a 90 s clock offset.
func fleet(recorders, per int, now time.Time) *memStore {
	m := &memStore{segs: map[string][]store.Segment{}, health: map[string][]store.HealthRecord{}, alerts: map[string]store.Alert{},
		docks: []store.Dock{{ID: "dock-1", Unit: "unit-3", Enrolled: true}}}
	start := now.Add(-time.Duration(per) * 14 * time.Minute)
	docked := now.Add(-30 * time.Minute)
	for r := range recorders {
		serial := fmt.Sprintf("R%05d", r)
		h := wire.DeviceHealth{Serial: serial, Firmware: "2.4.1", DockedAt: docked, DockClock: docked, ClockOffsetMs: 90_000, ClockSet: true,
			Battery: wire.Battery{HealthPct: 95}, Storage: wire.Storage{HealthPct: 100}}
		m.devs = append(m.devs, store.Device{Serial: serial, Officer: "o-1", LastDock: "dock-1", LastDockedAt: docked, Health: h})
		m.health[serial] = []store.HealthRecord{{Dock: "dock-1", Health: h}}
		segs := make([]store.Segment, per)
		at := start
		for i := range segs {
			end := at.Add(10 * time.Minute)
			cause, gap := wire.StopAutoSplit, time.Duration(0)
			switch {
			case i%25 == 24:
				cause, gap = wire.StopLowBattery, 2*time.Minute
			case i%10 == 9:
				cause, gap = wire.StopUser, 30*time.Minute
			}
			segs[i] = store.Segment{Serial: serial, Seq: uint64(i + 1), Dock: "dock-1", Start: at, End: end, StopCause: cause,
				Officer: "o-1", SHA256: "h", ReceivedAt: end.Add(time.Hour),
				Receipt: &wire.Receipt{ObjectID: "o", Device: serial, Seq: uint64(i + 1), SHA256: "h", StoredAt: end.Add(time.Hour)}}
			at = end.Add(gap)
		}
		m.segs[serial] = segs
	}
	return m
}

// BenchmarkPass1M runs one analysis pass over 1,000,000 segments (1,000
// recorders × 1,000) with every finding new, so every alert is built,
// stored and delivered (to no deliverer): the engine's share of the issue's
// target (timeline analysis of 1,000,000 segments in under 60 s). The
// reason check is left out (no checker: interruptions are raised
// unchecked); it is measured in package reasoncheck. Run:
//
//	go test -run '^$' -bench Pass1M -benchtime 3x -benchmem ./cloud/analysis
func BenchmarkPass1M(b *testing.B) {
	const recorders, per = 1000, 1000
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	m := fleet(recorders, per, now)
	e := New(Config{Clock: stepClock{clockwork.NewRealClock(), &now}, Lookback: 14 * 24 * time.Hour}, m, nil, nil, nil, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	var created int
	b.ResetTimer()
	for b.Loop() {
		clear(m.alerts)
		as, err := e.Pass(ctx)
		if err != nil {
			b.Fatal(err)
		}
		created = len(as)
	}
	if created == 0 {
		b.Fatal("no alerts")
	}
	b.ReportMetric(float64(recorders*per), "segments/op")
	b.ReportMetric(float64(recorders*per)*float64(b.N)/b.Elapsed().Seconds(), "segments/s")
	b.ReportMetric(float64(created), "alerts/op")
}

// TestPassOverFleet is the benchmark's fleet at a small size, so what the
// benchmark measures is checked: the expected findings per recorder, and a
// second pass creates nothing.
func TestPassOverFleet(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	m := fleet(3, 110, now)
	e := New(Config{Clock: stepClock{clockwork.NewRealClock(), &now}}, m, nil, nil, nil, slog.New(slog.DiscardHandler))
	as, err := e.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, a := range as {
		kinds[a.Kind]++
		if a.Unit != "unit-3" {
			t.Fatalf("alert %s for unit %q", a.Key, a.Unit)
		}
	}
	// Every finding the timeline makes is raised (interruptions unchecked:
	// no reason checker), plus the 90 s clock drift of each recorder.
	want := map[string]int{"clock-drift": len(m.devs)}
	for _, d := range m.devs {
		var segs []timeline.Segment
		for _, s := range m.segs[d.Serial] {
			segs = append(segs, timeline.Segment{Seq: s.Seq, Start: s.Start, End: s.End, StopCause: s.StopCause, SHA256: s.SHA256, ReceivedAt: s.ReceivedAt})
		}
		for _, f := range timeline.Analyze(timeline.Build(d.Serial, segs, nil, rules.DefaultPolicy()), rules.DefaultPolicy(), now) {
			if f.Kind == timeline.KindInterruption {
				f.Kind = KindUnchecked
			}
			want[f.Kind]++
		}
	}
	if want[KindUnchecked] != 3*4 || !maps.Equal(kinds, want) {
		t.Fatalf("alerts by kind %v, want %v", kinds, want)
	}
	again, err := e.Pass(context.Background())
	if err != nil || len(again) != 0 {
		t.Fatalf("second pass created %d (%v)", len(again), err)
	}
}

// BenchmarkPassSQLite100k runs analysis passes over 100,000 segments (100
// recorders × 1,000, the fleet above) held in a SQLite store: the engine
// with its SQL reads (and, in the first pass, reported apart, its alert
// writes), for scaling the in-memory figure of BenchmarkPass1M. Run:
//
//	go test -run '^$' -bench PassSQLite100k -benchtime 2x ./cloud/analysis
func BenchmarkPassSQLite100k(b *testing.B) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(b.TempDir(), "c.db"), &store.Opts{Logger: slog.New(slog.DiscardHandler), Clock: fixedClock(now)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchPassStore(b, st, now)
}

// BenchmarkPassPostgres100k is BenchmarkPassSQLite100k on PostgreSQL
// (BERTH_PG_DSN, default the local test database; a fresh schema, dropped
// afterwards). It skips when PostgreSQL is unreachable unless
// BERTH_REQUIRE_PG is set.
func BenchmarkPassPostgres100k(b *testing.B) {
	dsn := os.Getenv("BERTH_PG_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	db, err := sql.Open("pgx", dsn)
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_PG") != "" {
			b.Fatalf("PostgreSQL required (BERTH_REQUIRE_PG): %v", err)
		}
		b.Skipf("PostgreSQL unreachable: %v", err)
	}
	defer db.Close()
	schema := fmt.Sprintf("bench_analysis_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		b.Fatal(err)
	}
	defer db.Exec("DROP SCHEMA " + schema + " CASCADE")
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	st, err := store.Open(context.Background(), dsn, &store.Opts{Logger: slog.New(slog.DiscardHandler), Clock: fixedClock(now), Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchPassStore(b, st, now)
}

func benchPassStore(b *testing.B, st *store.Store, now time.Time) {
	const recorders, per = 100, 1000
	ctx := context.Background()
	if err := st.EnrollDock(ctx, "dock-1", "unit-3", "token-0123456789abcdef"); err != nil {
		b.Fatal(err)
	}
	m := fleet(recorders, per, now)
	n := 0
	var batch []store.Incoming
	add := func(typ string, body any) {
		n++
		e, err := wire.NewEnvelope(fmt.Sprintf("m%d", n), "dock-1", now.Add(-30*time.Minute), typ, body)
		if err != nil {
			b.Fatal(err)
		}
		d, err := wire.DecodeBody(e)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, store.Incoming{Env: e, Body: d})
		if len(batch) == 1000 {
			if _, err := st.Commit(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for _, d := range m.devs {
		h := d.Health
		add(wire.TypeDeviceHealth, &h)
		for _, s := range m.segs[d.Serial] {
			sha := fmt.Sprintf("%064x", uint64(n))
			var rp *wire.Receipt
			if !s.ReceivedAt.IsZero() {
				// Only the collector's own receipts count: record it, then echo it.
				r := wire.Receipt{ObjectID: "sha256-" + sha, Device: d.Serial, Seq: s.Seq, SHA256: sha, Size: 1000, StoredAt: s.ReceivedAt,
					KeyID: "k", Signature: "s"}
				if err := st.RecordReceipt(ctx, r); err != nil {
					b.Fatal(err)
				}
				rp = &r
			}
			add(wire.TypeSegmentManifest, &wire.SegmentManifest{Serial: d.Serial, Seq: s.Seq, Start: s.Start, End: s.End, Size: 1000,
				SHA256: sha, StopCause: s.StopCause, Officer: s.Officer, State: wire.SegUploaded, Receipt: rp, ClockSyncedAt: h.DockClock})
		}
	}
	if _, err := st.Commit(ctx, batch); err != nil {
		b.Fatal(err)
	}
	ts := &timedStore{Store: st}
	e := New(Config{Clock: stepClock{clockwork.NewRealClock(), &now}, Lookback: 14 * 24 * time.Hour}, ts, nil, nil, nil, slog.New(slog.DiscardHandler))
	// The first pass finds everything new (every alert written); the
	// timed ones are the steady state: everything read, judged, found
	// already raised.
	t0 := time.Now()
	first, err := e.Pass(ctx)
	if err != nil {
		b.Fatal(err)
	}
	firstTook := time.Since(t0)
	if len(first) == 0 {
		b.Fatal("no alerts")
	}
	*ts = timedStore{Store: st}
	b.ResetTimer()
	for b.Loop() {
		as, err := e.Pass(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(as) != 0 {
			b.Fatalf("steady pass created %d alerts", len(as))
		}
	}
	b.ReportMetric(float64(recorders*per), "segments/op")
	b.ReportMetric(firstTook.Seconds(), "first-pass-s")
	b.ReportMetric(float64(len(first)), "first-pass-alerts")
	// Where a steady pass spends its time in the store.
	b.ReportMetric(ts.reads.Seconds()/float64(b.N), "segment-reads-s/op")
	b.ReportMetric(ts.lookups.Seconds()/float64(b.N), "alert-lookups-s/op")
	b.ReportMetric(ts.upserts.Seconds()/float64(b.N), "alert-upserts-s/op")
}

// timedStore adds up the time spent in the store's calls the engine makes
// per finding and per device.
type timedStore struct {
	*store.Store
	reads, lookups, upserts time.Duration
}

func (t *timedStore) SegmentsOf(ctx context.Context, spans []store.Span) (map[string][]store.Segment, error) {
	t0 := time.Now()
	defer func() { t.reads += time.Since(t0) }()
	return t.Store.SegmentsOf(ctx, spans)
}

func (t *timedStore) AlertsByKeys(ctx context.Context, keys []string) (map[string]store.Alert, error) {
	t0 := time.Now()
	defer func() { t.lookups += time.Since(t0) }()
	return t.Store.AlertsByKeys(ctx, keys)
}

func (t *timedStore) AlertByKey(ctx context.Context, key string) (store.Alert, bool, error) {
	t0 := time.Now()
	defer func() { t.lookups += time.Since(t0) }()
	return t.Store.AlertByKey(ctx, key)
}

func (t *timedStore) UpsertAlerts(ctx context.Context, as []store.Alert) ([]bool, error) {
	t0 := time.Now()
	defer func() { t.upserts += time.Since(t0) }()
	return t.Store.UpsertAlerts(ctx, as)
}

func (t *timedStore) UpsertAlert(ctx context.Context, a store.Alert) (bool, error) {
	t0 := time.Now()
	defer func() { t.upserts += time.Since(t0) }()
	return t.Store.UpsertAlert(ctx, a)
}
