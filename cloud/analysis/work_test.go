package analysis

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/store/pgtest"
	"github.com/berthdock/berth/cloud/wire"
)

// workDB is one database the incremental tests open stores on (as several
// collectors would), on the stepped clock *now.
type workDB struct {
	name, dsn, schema string
	now               *time.Time
}

func (b workDB) open(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), b.dsn, &store.Opts{Logger: slog.New(slog.DiscardHandler),
		Clock: stepClock{clockwork.NewRealClock(), b.now}, Schema: b.schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// onBoth runs fn on a fresh SQLite file and a fresh PostgreSQL schema
// (skipped when PostgreSQL is unreachable, unless BERTH_REQUIRE_PG).
func onBoth(t *testing.T, fn func(t *testing.T, db workDB)) {
	t.Run("sqlite", func(t *testing.T) {
		now := t0.Add(30 * time.Hour)
		fn(t, workDB{name: "sqlite", dsn: "sqlite://" + filepath.Join(t.TempDir(), "c.db"), now: &now})
	})
	t.Run("postgres", func(t *testing.T) {
		now := t0.Add(30 * time.Hour)
		fn(t, newPGWorkDB(t, &now))
	})
}

func newPGWorkDB(t *testing.T, now *time.Time) workDB {
	t.Helper()
	return workDB{name: "postgres", dsn: pgtest.DSN(), schema: pgtest.Schema(t, "berth_analysis"), now: now}
}

// seedHoles reports, for each serial, a docking and seqs 1, 2, 4 (and more
// holes with more), all in storage: each recorder has a hole, judged as
// soon as it is seen.
func seedHoles(t *testing.T, st *store.Store, n *int, now time.Time, serials []string, seqs ...uint64) {
	t.Helper()
	if len(seqs) == 0 {
		seqs = []uint64{1, 2, 4}
	}
	var batch []store.Incoming
	add := func(typ string, body any) {
		*n++
		e, err := wire.NewEnvelope(fmt.Sprintf("m%d", *n), "dock-1", now, typ, body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := wire.DecodeBody(e)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, store.Incoming{Env: e, Body: b})
	}
	for _, sn := range serials {
		add(wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: sn, Firmware: "2.4.1", Officer: "o-7", DockedAt: now, DockClock: now,
			DeviceClock: now, ClockSet: true, Battery: wire.Battery{Percent: 50, HealthPct: 95},
			Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
		for _, seq := range seqs {
			add(wire.TypeSegmentManifest, segManifest(t, st, sn, seq, now))
		}
	}
	if _, err := st.Commit(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

// segManifest records seq's receipt and returns its manifest: recorded
// back to back an hour before now, split automatically.
func segManifest(t *testing.T, st *store.Store, serial string, seq uint64, now time.Time) *wire.SegmentManifest {
	t.Helper()
	start := now.Add(-time.Hour).Add(time.Duration(seq) * time.Minute)
	sha := fmt.Sprintf("%060x%04d", seq, len(serial))
	r := wire.Receipt{ObjectID: "sha256-" + sha, Device: serial, Seq: seq, SHA256: sha, Size: 10, StoredAt: now, KeyID: "k", Signature: "s"}
	if err := st.RecordReceipt(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return &wire.SegmentManifest{Serial: serial, Seq: seq, Start: start, End: start.Add(time.Minute), Size: 10, SHA256: sha,
		StopCause: wire.StopAutoSplit, Officer: "o-7", State: wire.SegUploaded, Receipt: &r, ClockSyncedAt: now}
}

// deliveries records what the engines delivered, safe for several.
type deliveries struct {
	mu   sync.Mutex
	keys map[string]int
}

func (d *deliveries) Deliver(_ context.Context, a alert.Alert) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keys == nil {
		d.keys = map[string]int{}
	}
	k := a.Key
	if a.State == store.AlertClosed {
		k += " (withdrawn)" // a withdrawal is a delivery of its own
	}
	d.keys[k]++
	return nil
}

func (d *deliveries) dups() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for k, n := range d.keys {
		if n != 1 {
			out = append(out, fmt.Sprintf("%s×%d", k, n))
		}
	}
	return out
}

func serialsN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("R%03d", i)
	}
	return out
}

func newWorkEngine(db workDB, st Store, owner string, d Deliverer) *Engine {
	return New(Config{Clock: stepClock{clockwork.NewRealClock(), db.now}, Escalate: -1, Owner: owner, Batch: 5},
		st, nil, nil, []Deliverer{d}, slog.New(slog.DiscardHandler))
}

// A pass after a quiet period judges nobody; a change to one recorder
// re-judges it alone; a rule's clock running out (footage overdue) wakes
// its recorder without any change.
func TestPassJudgesOnlyWhatChanged(t *testing.T) {
	onBoth(t, func(t *testing.T, db workDB) {
		ctx := context.Background()
		st := db.open(t)
		n := 0
		seedHoles(t, st, &n, *db.now, serialsN(3))
		var d deliveries
		e := newWorkEngine(db, st, "a", &d)
		r, err := e.PassReport(ctx)
		// Each: the hole, and the break around it (no checker: unchecked).
		if err != nil || len(r.Judged) != 3 || len(d.keys) != 6 {
			t.Fatalf("first pass judged %v, delivered %v (%v)", r.Judged, d.keys, err)
		}
		*db.now = db.now.Add(10 * time.Minute)
		if r, err := e.PassReport(ctx); err != nil || len(r.Judged) != 0 || len(r.Created) != 0 {
			t.Fatalf("quiet pass judged %v created %d (%v)", r.Judged, len(r.Created), err)
		}
		// R001's seq 3 arrives: the hole is withdrawn; only R001 judged.
		m := segManifest(t, st, "R001", 3, db.now.Add(-10*time.Minute))
		commit(t, st, "dock-1", &n, wire.TypeSegmentManifest, m)
		r, err = e.PassReport(ctx)
		if err != nil || !slices.Equal(r.Judged, []string{"R001"}) {
			t.Fatalf("after one change judged %v (%v)", r.Judged, err)
		}
		if a, _, _ := st.AlertByKey(ctx, "sequence-hole/R001/3-3"); a.State != store.AlertClosed {
			t.Fatalf("R001's hole not withdrawn: %+v", a)
		}
		// A segment listed but not in storage becomes overdue 24 h after
		// its end (here in 14 h): the recorder wakes then, with nothing
		// committed (the others, 20 h after docking: due back soon).
		commit(t, st, "dock-1", &n, wire.TypeDocking, &wire.Docking{Serial: "R002", DockedAt: *db.now, Phase: wire.DockingInventory,
			LastSeq: 5, Part: 1, Parts: 1, Segments: []wire.InventoryEntry{{Seq: 5, Start: db.now.Add(-11 * time.Hour),
				End: db.now.Add(-10 * time.Hour), Size: 10, SHA256: fmt.Sprintf("%064x", 5), StopCause: wire.StopUser}}})
		if r, err := e.PassReport(ctx); err != nil || !slices.Equal(r.Judged, []string{"R002"}) {
			t.Fatalf("after the inventory judged %v (%v)", r.Judged, err)
		}
		*db.now = db.now.Add(13 * time.Hour)
		if r, err := e.PassReport(ctx); err != nil || len(r.Judged) != 0 {
			t.Fatalf("13 h later judged %v (%v)", r.Judged, err)
		}
		*db.now = db.now.Add(time.Hour + time.Minute)
		r, err = e.PassReport(ctx)
		if err != nil || !slices.Equal(r.Judged, []string{"R002"}) {
			t.Fatalf("at the deadline judged %v (%v)", r.Judged, err)
		}
		if a, ok, _ := st.AlertByKey(ctx, "upload-overdue/R002/5"); !ok || a.State != store.AlertOpen {
			t.Fatalf("overdue alert %+v %v", a, ok)
		}
		if dups := d.dups(); len(dups) != 0 {
			t.Fatalf("delivered more than once: %v", dups)
		}
	})
}

// Two analysers on one database judge each recorder once per change and
// deliver each alert once.
func TestTwoAnalysersSplitTheWork(t *testing.T) {
	onBoth(t, func(t *testing.T, db workDB) {
		ctx := context.Background()
		sa, sb := db.open(t), db.open(t)
		n := 0
		serials := serialsN(40)
		if db.name == "sqlite" {
			serials = serialsN(10) // two writers on one file queue on its lock: slow under -race
		}
		seedHoles(t, sa, &n, *db.now, serials)
		var d deliveries
		ea, eb := newWorkEngine(db, sa, "a", &d), newWorkEngine(db, sb, "b", &d)
		both := func() []string {
			var ra, rb PassResult
			var erra, errb error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); ra, erra = ea.PassReport(ctx) }()
			go func() { defer wg.Done(); rb, errb = eb.PassReport(ctx) }()
			wg.Wait()
			if erra != nil || errb != nil {
				t.Fatal(erra, errb)
			}
			all := append(slices.Clone(ra.Judged), rb.Judged...)
			slices.Sort(all)
			t.Logf("%s: a judged %d, b judged %d", db.name, len(ra.Judged), len(rb.Judged))
			return all
		}
		if got := both(); !slices.Equal(got, serials) {
			t.Fatalf("judged %v, want each of %v once", got, serials)
		}
		if dups := d.dups(); len(dups) != 0 || len(d.keys) != 2*len(serials) {
			t.Fatalf("deliveries %v; duplicates %v", d.keys, dups)
		}
		*db.now = db.now.Add(time.Minute)
		changed := serials[2:7]
		for _, sn := range changed {
			commit(t, sa, "dock-1", &n, wire.TypeSegmentManifest, segManifest(t, sa, sn, 3, db.now.Add(-time.Minute)))
		}
		if got := both(); !slices.Equal(got, changed) {
			t.Fatalf("after %d changes judged %v, want %v", len(changed), got, changed)
		}
		if dups := d.dups(); len(dups) != 0 {
			t.Fatalf("duplicates %v", dups)
		}
	})
}

// cutStore stops its engine (cancels the pass's context) right after the
// first alerts are stored (one alert, or a batch's): a collector that
// crashed mid-pass. stored counts the alerts it let through.
type cutStore struct {
	*store.Store
	cancel context.CancelFunc
	once   sync.Once
	stored int
}

func (c *cutStore) UpsertAlert(ctx context.Context, a store.Alert) (bool, error) {
	ok, err := c.Store.UpsertAlert(ctx, a)
	c.once.Do(func() { c.stored = 1; c.cancel() })
	return ok, err
}

func (c *cutStore) UpsertAlerts(ctx context.Context, as []store.Alert) ([]bool, error) {
	ok, err := c.Store.UpsertAlerts(ctx, as)
	c.once.Do(func() { c.stored = len(as); c.cancel() })
	return ok, err
}

// A pass cut short leaves its recorder due: the next analyser takes it
// once the lease lapses, and the alert stored but not delivered is
// delivered, once.
func TestCrashedPassLeavesTheWork(t *testing.T) {
	onBoth(t, func(t *testing.T, db workDB) {
		st := db.open(t)
		n := 0
		seedHoles(t, st, &n, *db.now, []string{"R1"}, 1, 3, 5) // two holes
		var d deliveries
		ctx, cancel := context.WithCancel(context.Background())
		cut := &cutStore{Store: st, cancel: cancel}
		ea := newWorkEngine(db, cut, "a", &d)
		if r, err := ea.PassReport(ctx); err == nil || len(r.Judged) != 0 {
			t.Fatalf("cut pass judged %v (%v)", r.Judged, err)
		}
		if len(d.keys) != 0 {
			t.Fatalf("delivered %v before the crash", d.keys)
		}
		if due, err := st.WorkDue(context.Background()); err != nil || due != 1 {
			t.Fatalf("work due after the crash %d (%v)", due, err)
		}
		eb := newWorkEngine(db, db.open(t), "b", &d)
		// Still leased to a: b only sweeps the stored alerts into delivery.
		r, err := eb.PassReport(context.Background())
		if err != nil || len(r.Judged) != 0 || cut.stored == 0 || len(d.keys) != cut.stored {
			t.Fatalf("within a's lease b judged %v, delivered %v (%v)", r.Judged, d.keys, err)
		}
		*db.now = db.now.Add(11 * time.Minute)
		r, err = eb.PassReport(context.Background())
		if err != nil || !slices.Equal(r.Judged, []string{"R1"}) {
			t.Fatalf("after the lease b judged %v (%v)", r.Judged, err)
		}
		if dups := d.dups(); len(dups) != 0 || len(d.keys) != 4 {
			t.Fatalf("deliveries %v, duplicates %v", d.keys, dups)
		}
		if due, err := st.WorkDue(context.Background()); err != nil || due != 0 {
			t.Fatalf("work due at the end %d (%v)", due, err)
		}
	})
}

// countStore counts the engine's alert writes: batches and single ones
// about recorders.
type countStore struct {
	*store.Store
	mu                    sync.Mutex
	batches, batched      int // UpsertAlerts calls, and the alerts in them
	claimBatches, singles int // ClaimAnnouncements calls; UpsertAlert or ClaimAnnouncement of a recorder's alert
	claimedKeys           int
}

func (c *countStore) UpsertAlerts(ctx context.Context, as []store.Alert) ([]bool, error) {
	c.mu.Lock()
	c.batches++
	c.batched += len(as)
	c.mu.Unlock()
	return c.Store.UpsertAlerts(ctx, as)
}

func (c *countStore) ClaimAnnouncements(ctx context.Context, keys []string) (map[string]bool, error) {
	c.mu.Lock()
	c.claimBatches++
	c.claimedKeys += len(keys)
	c.mu.Unlock()
	return c.Store.ClaimAnnouncements(ctx, keys)
}

func (c *countStore) UpsertAlert(ctx context.Context, a store.Alert) (bool, error) {
	if a.Serial != "" {
		c.mu.Lock()
		c.singles++
		c.mu.Unlock()
	}
	return c.Store.UpsertAlert(ctx, a)
}

// The alerts of a batch of recorders are stored in one transaction and
// their announcements claimed in one more, not two per alert; each is
// delivered once.
func TestPassStoresAlertsPerBatch(t *testing.T) {
	onBoth(t, func(t *testing.T, db workDB) {
		st := db.open(t)
		n := 0
		seedHoles(t, st, &n, *db.now, serialsN(12))
		var d deliveries
		cs := &countStore{Store: st}
		e := newWorkEngine(db, cs, "a", &d) // batches of 5: 5, 5, 2
		r, err := e.PassReport(context.Background())
		if err != nil || len(r.Judged) != 12 {
			t.Fatalf("judged %v (%v)", r.Judged, err)
		}
		// Each recorder: its hole and the break around it.
		if cs.batches != 3 || cs.batched != 24 || cs.claimBatches != 3 || cs.claimedKeys != 24 || cs.singles != 0 {
			t.Fatalf("%d upsert batches of %d alerts, %d claim batches of %d keys, %d single writes; want 3, 24, 3, 24, 0",
				cs.batches, cs.batched, cs.claimBatches, cs.claimedKeys, cs.singles)
		}
		if len(r.Created) != 24 || len(d.keys) != 24 {
			t.Fatalf("created %d, delivered %d; want 24", len(r.Created), len(d.keys))
		}
		if dups := d.dups(); len(dups) != 0 {
			t.Fatalf("delivered more than once: %v", dups)
		}
		// A second engine's pass finds nothing to store or deliver.
		*db.now = db.now.Add(10 * time.Minute)
		r, err = newWorkEngine(db, cs, "b", &d).PassReport(context.Background())
		if err != nil || len(r.Created) != 0 || len(d.keys) != 24 || cs.batches != 3 {
			t.Fatalf("second pass created %d, delivered %d, batches %d (%v)", len(r.Created), len(d.keys), cs.batches, err)
		}
	})
}
