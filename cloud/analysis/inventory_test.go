package analysis

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// invWorld is a store, an engine on a stepped clock and the deliveries it
// made, for the whole-inventory tests.
type invWorld struct {
	t       *testing.T
	st      *store.Store
	e       *Engine
	now     *time.Time
	n       int
	got     []alert.Alert
	clip    footage
	segs    map[uint64]wire.InventoryEntry
	docked  time.Time
	lastSeq uint64
}

func newInvWorld(t *testing.T, now time.Time, speech speechBySeq) *invWorld {
	w := &invWorld{t: t, now: &now, clip: footage{}, segs: map[uint64]wire.InventoryEntry{}}
	w.st = stepStore(t, w.now)
	w.e = New(Config{Clock: stepClock{clockwork.NewRealClock(), w.now}, Escalate: -1}, w.st, w.clip, speech,
		[]Deliverer{deliverFunc(func(a alert.Alert) { w.got = append(w.got, a) })}, slog.New(slog.DiscardHandler))
	return w
}

// dock reports a docking at now: health, then the inventory of seqs
// (the entries made by entry) with lastSeq.
func (w *invWorld) dock(lastSeq uint64, seqs ...uint64) {
	w.health()
	w.inventory(lastSeq, seqs...)
}

func (w *invWorld) health() {
	w.docked = *w.now
	commit(w.t, w.st, "dock-1", &w.n, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "R1", Firmware: "2.4.1", Officer: "o-7",
		DockedAt: w.docked, DockClock: w.docked, DeviceClock: w.docked, ClockSet: true,
		Battery: wire.Battery{Percent: 50, HealthPct: 95}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
}

func (w *invWorld) inventory(lastSeq uint64, seqs ...uint64) {
	w.lastSeq = lastSeq
	var es []wire.InventoryEntry
	for _, s := range seqs {
		es = append(es, w.segs[s])
	}
	commit(w.t, w.st, "dock-1", &w.n, wire.TypeDocking, &wire.Docking{Serial: "R1", DockedAt: w.docked, Phase: wire.DockingInventory,
		LastSeq: lastSeq, Part: 1, Parts: 1, Segments: es})
}

// arrive reports seq copied and receipted now.
func (w *invWorld) arrive(seq uint64) {
	g := w.segs[seq]
	data := []byte(fmt.Sprintf("seq %d footage", seq))
	r := wire.Receipt{ObjectID: "sha256-" + g.SHA256, Device: "R1", Seq: seq, SHA256: g.SHA256, Size: g.Size, StoredAt: *w.now,
		KeyID: "k", Signature: "s"}
	w.clip[r.ObjectID] = data
	if err := w.st.RecordReceipt(context.Background(), r); err != nil {
		w.t.Fatal(err)
	}
	commit(w.t, w.st, "dock-1", &w.n, wire.TypeSegmentManifest, &wire.SegmentManifest{Serial: "R1", Seq: seq, Start: g.Start, End: g.End,
		Size: g.Size, SHA256: g.SHA256, StopCause: g.StopCause, Officer: "o-7", State: wire.SegUploaded, ClockSyncedAt: w.docked,
		Receipt: &r})
}

// pass runs a pass and returns the keys delivered in it.
func (w *invWorld) pass() []string {
	w.t.Helper()
	w.got = nil
	if _, err := w.e.Pass(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	var keys []string
	for _, a := range w.got {
		keys = append(keys, a.Key)
		if a.Rule == nil || a.Rule.Articles == "" {
			w.t.Errorf("delivery %s names no rule", a.Key)
		}
	}
	slices.Sort(keys)
	return keys
}

// plan lays out seqs recorded from start, each 10 min, stopping for the
// user with an hour between (no interruptions), unless causes says.
func (w *invWorld) plan(start time.Time, seqs int, causes map[uint64]string, gaps map[uint64]time.Duration) {
	at := start
	for s := uint64(1); s <= uint64(seqs); s++ {
		cause := wire.StopUser
		if c, ok := causes[s]; ok {
			cause = c
		}
		w.segs[s] = wire.InventoryEntry{Seq: s, Start: at, End: at.Add(10 * time.Minute), Size: int64(len(fmt.Sprintf("seq %d footage", s))),
			SHA256: fmt.Sprintf("%064x", s), StopCause: cause}
		gap := time.Hour
		if g, ok := gaps[s]; ok {
			gap = g
		}
		at = at.Add(10*time.Minute + gap)
	}
}

// TestJudgedOnWholeInventory: footage copying in any order raises no false
// hole while the inventory accounts for it; a hole raised before the
// inventory arrived (a dock that reported segments first) is withdrawn
// with its reason, delivered; a real hole and footage lost at the end of
// the sequence are alerted, once.
func TestJudgedOnWholeInventory(t *testing.T) {
	now := t0.Add(30 * time.Hour)
	w := newInvWorld(t, now, nil)
	w.plan(t0.Add(20*time.Hour), 5, nil, nil)
	// Segments 1 and 5 arrive before any inventory: judged on what
	// arrived, 2..4 look missing.
	w.health()
	w.arrive(1)
	w.arrive(5)
	if got := w.pass(); !slices.Equal(got, []string{"sequence-hole/R1/2-4"}) {
		t.Fatalf("before the inventory: delivered %v", got)
	}
	// The inventory: 1, 2, 4, 5 listed (3 truly gone), the recorder
	// assigned up to 7 (6 and 7 lost at the end).
	*w.now = now.Add(time.Minute)
	w.inventory(7, 1, 2, 4, 5)
	got := w.pass()
	want := []string{"sequence-hole/R1/2-4", "sequence-hole/R1/3-3", "sequence-hole/R1/6-7"}
	if !slices.Equal(got, want) {
		t.Fatalf("with the inventory: delivered %v, want %v (the withdrawal and the two real findings)", got, want)
	}
	for _, a := range w.got {
		if a.Key == "sequence-hole/R1/2-4" && (a.State != store.AlertClosed || !strings.Contains(a.Detail, "withdrawn")) {
			t.Errorf("withdrawal delivered as %+v", a)
		}
		if a.Kind == KindTailLost && (a.Severity != alert.SeverityCritical || a.Rule.Number != 3) {
			t.Errorf("tail alert %+v", a)
		}
	}
	old, _, err := w.st.AlertByKey(context.Background(), "sequence-hole/R1/2-4")
	if err != nil || old.State != store.AlertClosed || !strings.HasPrefix(old.ClosedBy, "analysis: withdrawn: ") {
		t.Errorf("withdrawn hole stored as %+v (%v)", old, err)
	}
	// The pending segments arrive, in any order: nothing new, nothing
	// withdrawn; the real findings stand.
	for _, s := range []uint64{4, 2} {
		*w.now = w.now.Add(time.Minute)
		w.arrive(s)
		if got := w.pass(); len(got) != 0 {
			t.Fatalf("after seq %d arrived: delivered %v", s, got)
		}
	}
	for _, k := range want[1:] {
		if a, ok, _ := w.st.AlertByKey(context.Background(), k); !ok || a.State != store.AlertOpen {
			t.Errorf("%s: %+v, want open", k, a)
		}
	}
	// The next docking lists seq 8: the lost tail 6..7 now lies between
	// listed segments, the same footage missing: its alert stands, nothing
	// is delivered.
	*w.now = w.now.Add(time.Hour)
	w.segs[8] = wire.InventoryEntry{Seq: 8, Start: w.now.Add(-time.Hour), End: w.now.Add(-50 * time.Minute), Size: 14,
		SHA256: fmt.Sprintf("%064x", 8), StopCause: wire.StopUser}
	w.dock(8, 8)
	w.arrive(8)
	if got := w.pass(); len(got) != 0 {
		t.Fatalf("the lost tail became a hole: delivered %v", got)
	}
	// The one after lists seq 11 (10 lost too): 9..10 is a new hole.
	*w.now = w.now.Add(time.Hour)
	w.segs[11] = wire.InventoryEntry{Seq: 11, Start: w.now.Add(-time.Hour), End: w.now.Add(-50 * time.Minute), Size: 15,
		SHA256: fmt.Sprintf("%064x", 11), StopCause: wire.StopUser}
	w.dock(11, 11)
	w.arrive(11)
	if got := w.pass(); !slices.Equal(got, []string{"sequence-hole/R1/9-10"}) {
		t.Fatalf("after a docking listing seq 11: delivered %v", got)
	}
	if a, _, _ := w.st.AlertByKey(context.Background(), "sequence-hole/R1/6-7"); a.State != store.AlertOpen || a.Kind != KindTailLost {
		t.Errorf("lost tail: %+v", a)
	}
}

// TestInterruptionPendingThenJudged: an abnormal stop whose resumption is
// inventoried but not copied yet is neither "never resumed" nor
// "unchecked"; once the resumed footage arrives it gets its reason check.
func TestInterruptionPendingThenJudged(t *testing.T) {
	now := t0.Add(30 * time.Hour)
	w := newInvWorld(t, now, speechBySeq{2: 0})
	w.plan(t0.Add(10*time.Hour), 2, map[uint64]string{1: wire.StopLowBattery}, map[uint64]time.Duration{1: 3 * time.Minute})
	w.dock(2, 1, 2)
	w.arrive(1)
	if got := w.pass(); len(got) != 0 {
		t.Fatalf("resumption pending: delivered %v", got)
	}
	*w.now = now.Add(time.Minute)
	w.arrive(2)
	if got := w.pass(); !slices.Equal(got, []string{KindUnexplained + "/R1/2"}) {
		t.Fatalf("resumed footage arrived: delivered %v", got)
	}
}

// TestAnyAge: footage docked 10 days after it was recorded, beyond the
// 7-day lookback, raises its late upload and gets its reason check.
func TestAnyAge(t *testing.T) {
	now := t0.Add(10 * 24 * time.Hour)
	w := newInvWorld(t, now, speechBySeq{2: 0})
	w.plan(t0, 2, map[uint64]string{1: wire.StopFault}, map[uint64]time.Duration{1: 2 * time.Minute})
	w.dock(2, 1, 2)
	w.arrive(1)
	w.arrive(2)
	got := w.pass()
	want := []string{KindUnexplained + "/R1/2", "late-upload/R1/1", "late-upload/R1/2"}
	if !slices.Equal(got, want) {
		t.Fatalf("10-day-old footage: delivered %v, want %v", got, want)
	}
	for _, a := range w.got {
		if a.Kind == "late-upload" && (a.Rule.Number != 1 || !strings.Contains(a.Rule.Articles, "第十二条")) {
			t.Errorf("late upload cites %+v", a.Rule)
		}
		if a.Kind == KindUnexplained && (a.Rule.Number != 2 || !strings.Contains(a.Rule.Articles, "第九条")) {
			t.Errorf("unexplained interruption cites %+v", a.Rule)
		}
	}
}

// TestUnitPolicy: a unit with a 12 h upload deadline has footage stored
// 13 h after recording judged late; under the default 24 h it is not.
func TestUnitPolicy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		units map[string]UnitPolicy
		want  []string
	}{
		{"default 24 h", nil, nil},
		{"unit-3 12 h", map[string]UnitPolicy{"unit-3": {Policy: func() rules.Policy {
			p := rules.DefaultPolicy()
			p.UploadDeadline = 12 * time.Hour
			return p
		}(), OffloadWarn: time.Hour}}, []string{"late-upload/R1/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(30 * time.Hour)
			w := newInvWorld(t, now, nil)
			w.e = New(Config{Clock: stepClock{clockwork.NewRealClock(), w.now}, Escalate: -1, Units: tc.units}, w.st, w.clip, nil,
				[]Deliverer{deliverFunc(func(a alert.Alert) { w.got = append(w.got, a) })}, slog.New(slog.DiscardHandler))
			w.plan(now.Add(-13*time.Hour-10*time.Minute), 1, nil, nil)
			w.dock(1, 1)
			w.arrive(1)
			if got := w.pass(); !slices.Equal(got, tc.want) {
				t.Fatalf("delivered %v, want %v", got, tc.want)
			}
		})
	}
}
