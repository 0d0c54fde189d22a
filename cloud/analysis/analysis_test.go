package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

// speechBySeq answers the reason check from a table (the detector itself is
// tested in package reasoncheck).
type speechBySeq map[uint64]float64

// modelsAsked records the recorder model each check is asked for.
type modelsAsked struct {
	ReasonChecker
	mu     sync.Mutex
	models []string
}

func (m *modelsAsked) Check(ctx context.Context, r io.ReaderAt, size int64, model string, window, min time.Duration) (Verdict, error) {
	m.mu.Lock()
	m.models = append(m.models, model)
	m.mu.Unlock()
	return m.ReasonChecker.Check(ctx, r, size, model, window, min)
}

func (s speechBySeq) Check(ctx context.Context, r io.ReaderAt, size int64, model string, window, min time.Duration) (Verdict, error) {
	b := make([]byte, size)
	r.ReadAt(b, 0)
	var seq uint64
	fmt.Sscanf(string(b), "seq %d", &seq)
	sec := s[seq]
	regs := []alert.SpeechRegion{{Start: 0.5, End: 0.5 + sec, Source: "wearer", Counted: true, SpeechSeconds: sec, Why: "near-field voice"},
		{Start: 9, End: 12, Source: "loudspeaker", Why: "band-limited"}}
	return Verdict{Spoken: sec >= min.Seconds(), SpeechSeconds: sec, Regions: regs}, nil
}

type footage map[string][]byte

func (f footage) Open(ctx context.Context, id string) (io.ReaderAt, int64, error) {
	b, ok := f[id]
	if !ok {
		return nil, 0, fmt.Errorf("no object %s", id)
	}
	return bytes.NewReader(b), int64(len(b)), nil
}

func fixedClock(t time.Time) clockwork.Clock { return clockwork.NewFakeClockAt(t) }

func commit(t *testing.T, st *store.Store, dock string, n *int, typ string, body any) {
	t.Helper()
	*n++
	e, err := wire.NewEnvelope(fmt.Sprintf("m%d", *n), dock, t0.Add(30*time.Hour), typ, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.DecodeBody(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(context.Background(), []store.Incoming{{Env: e, Body: b}}); err != nil {
		t.Fatal(err)
	}
}

func TestInterruptionsHolesAndDelivery(t *testing.T) {
	ctx := context.Background()
	storeNow := t0.Add(31 * time.Hour)
	st := stepStore(t, &storeNow)
	n := 0
	docked := t0.Add(30 * time.Hour)
	commit(t, st, "dock-1", &n, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "R1", Model: "BWC-7", Firmware: "2.0", Officer: "o-7", Unit: "unit-3",
		Slot: 0, DockedAt: docked, DockClock: docked, DeviceClock: docked, ClockSet: true,
		Battery: wire.Battery{Percent: 50, HealthPct: 95}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	// seq 1 low battery → seq 2 resumed without speech; seq 2 user stop →
	// seq 3 resumed with speech; seq 4 missing; seq 5 alone later.
	clip := footage{}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	segs := []struct {
		seq        uint64
		start, end int
		cause      string
	}{{1, 0, 10, wire.StopLowBattery}, {2, 14, 20, wire.StopUser}, {3, 22, 30, wire.StopUser}, {5, 300, 310, wire.StopUser}}
	for _, s := range segs {
		data := []byte(fmt.Sprintf("seq %d footage", s.seq))
		sha := fmt.Sprintf("%064x", s.seq)
		r := wire.Receipt{ObjectID: "sha256-" + sha, Device: "R1", Seq: s.seq, SHA256: sha, Size: int64(len(data)), StoredAt: at(s.end + 30),
			KeyID: "k", Signature: "s"}
		clip[r.ObjectID] = data
		// The collector issued it (only its own receipts count).
		if err := st.RecordReceipt(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		commit(t, st, "dock-1", &n, wire.TypeSegmentManifest, &wire.SegmentManifest{Serial: "R1", Seq: s.seq, Start: at(s.start), End: at(s.end),
			Size: r.Size, SHA256: sha, StopCause: s.cause, Officer: "o-7", State: wire.SegUploaded, Receipt: &r, ClockSyncedAt: docked})
	}

	var mu sync.Mutex
	var hooked []alert.Alert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a alert.Alert
		json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		hooked = append(hooked, a)
		mu.Unlock()
	}))
	defer srv.Close()
	check := &modelsAsked{ReasonChecker: speechBySeq{2: 0.6, 3: 4.5}}
	e := New(Config{Clock: clockwork.NewFakeClockAt(docked.Add(time.Hour))}, st, clip, check,
		[]Deliverer{&alert.Webhook{URL: srv.URL, Format: alert.FormatJSON}}, slog.New(slog.DiscardHandler))
	created, err := e.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The check is told the recorder's model (its microphone's calibration).
	if check.mu.Lock(); !slices.Equal(check.models, []string{"BWC-7", "BWC-7"}) {
		t.Errorf("reason checks asked for models %q, want the recorder's BWC-7 twice", check.models)
	}
	check.mu.Unlock()
	var kinds []string
	for _, a := range created {
		kinds = append(kinds, a.Kind+"@"+fmt.Sprint(a.Seq))
	}
	slices.Sort(kinds)
	want := []string{KindUnexplained + "@2", "sequence-hole@4"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("created %v, want %v", kinds, want)
	}
	mu.Lock()
	if len(hooked) != 2 {
		t.Fatalf("webhook got %d alerts", len(hooked))
	}
	mu.Unlock()
	un, ok, err := st.AlertByKey(ctx, KindUnexplained+"/R1/2")
	if err != nil || !ok || un.State != store.AlertOpen || un.Unit != "unit-3" {
		t.Fatalf("unexplained alert %+v %v %v", un, ok, err)
	}
	var ev alert.Evidence
	json.Unmarshal(un.Evidence, &ev)
	if ev.ReasonSpoken == nil || *ev.ReasonSpoken || ev.SpeechSeconds != 0.6 || ev.StopCause != wire.StopLowBattery {
		t.Fatalf("evidence %+v", ev)
	}
	if len(ev.Regions) != 2 || ev.Regions[0].Source != "wearer" || !ev.Regions[0].Counted || ev.Regions[0].SpeechSeconds != 0.6 ||
		ev.Regions[1].Source != "loudspeaker" || ev.Regions[1].Why != "band-limited" {
		t.Errorf("evidence regions %+v, want the verdict's two regions with their sources", ev.Regions)
	}
	if !strings.Contains(string(un.Evidence), `"source":"loudspeaker"`) {
		t.Errorf("stored evidence JSON lacks the region's source: %s", un.Evidence)
	}
	ex, ok, err := st.AlertByKey(ctx, KindExplained+"/R1/3")
	if err != nil || !ok || ex.State != store.AlertClosed {
		t.Fatalf("explained interruption must be recorded closed: %+v %v %v", ex, ok, err)
	}
	// A second pass raises nothing new and delivers nothing again.
	again, err := e.Pass(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second pass created %v, %v", again, err)
	}
}

// Docks do not repeat their unit in each health snapshot (agent/dock leaves
// DeviceHealth.Unit empty): a recorder's alerts then go to the unit of the
// dock that last docked it, not to "unassigned", where the unit's
// supervisors would never see them.
func TestUnitFromDock(t *testing.T) {
	ctx := context.Background()
	storeNow := t0.Add(31 * time.Hour)
	st := stepStore(t, &storeNow)
	n := 0
	docked := t0.Add(30 * time.Hour)
	for _, serial := range []string{"R1", "R2"} {
		unit := ""
		if serial == "R2" {
			unit = "unit-9" // a unit a report names never wins over enrolment
		}
		commit(t, st, "dock-1", &n, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: serial, Firmware: "2.0", Officer: "o-7", Unit: unit,
			Slot: 0, DockedAt: docked, DockClock: docked, DeviceClock: docked.Add(time.Minute), ClockOffsetMs: 60_000, ClockSet: true,
			Battery: wire.Battery{Percent: 50, HealthPct: 95}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	}
	var mu sync.Mutex
	units := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a alert.Alert
		json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		units[a.Serial] = a.Unit
		mu.Unlock()
	}))
	defer srv.Close()
	e := New(Config{Clock: clockwork.NewFakeClockAt(docked.Add(time.Hour))}, st, nil, nil,
		[]Deliverer{&alert.Webhook{URL: srv.URL, Format: alert.FormatJSON}}, slog.New(slog.DiscardHandler))
	if _, err := e.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if units["R1"] != "unit-3" || units["R2"] != "unit-3" {
		t.Fatalf("clock-drift alerts went to units %v, want both unit-3 (the docking dock's enrolment, not the report)", units)
	}
	a, ok, err := st.AlertByKey(ctx, "clock-drift/R1/"+docked.UTC().Format(time.RFC3339))
	if err != nil || !ok || a.Unit != "unit-3" {
		t.Fatalf("stored alert %+v %v %v", a, ok, err)
	}
}

// An interruption analysed before its resumed segment reached the evidence
// store raises nothing while the footage is on its way (no "unchecked"
// alert); once the footage is there it is judged.
func TestUncheckedSupersededByVerdict(t *testing.T) {
	ctx := context.Background()
	storeNow := t0.Add(31 * time.Hour)
	st := stepStore(t, &storeNow)
	n := 0
	docked := t0.Add(30 * time.Hour)
	commit(t, st, "dock-1", &n, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "R1", Firmware: "2.0", Officer: "o-7",
		Slot: 0, DockedAt: docked, DockClock: docked, DeviceClock: docked, ClockSet: true,
		Battery: wire.Battery{Percent: 50, HealthPct: 95}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	clip := footage{}
	at := func(m int) time.Time { return docked.Add(-3*time.Hour + time.Duration(m)*time.Minute) } // within 24 h: not overdue
	// seq 1 low battery → seq 2 (no speech); seq 3 fault → seq 4 (speech).
	segs := []struct {
		seq        uint64
		start, end int
		cause      string
	}{{1, 0, 10, wire.StopLowBattery}, {2, 12, 20, wire.StopUser}, {3, 100, 110, wire.StopFault}, {4, 112, 120, wire.StopUser}}
	manifest := func(seq uint64, start, end int, cause string, receipted bool) {
		data := []byte(fmt.Sprintf("seq %d footage", seq))
		sha := fmt.Sprintf("%064x", seq)
		m := &wire.SegmentManifest{Serial: "R1", Seq: seq, Start: at(start), End: at(end), Size: int64(len(data)), SHA256: sha,
			StopCause: cause, Officer: "o-7", State: wire.SegBuffered, ClockSyncedAt: docked}
		if receipted {
			r := wire.Receipt{ObjectID: "sha256-" + sha, Device: "R1", Seq: seq, SHA256: sha, Size: int64(len(data)), StoredAt: at(end + 30),
				KeyID: "k", Signature: "s"}
			clip[r.ObjectID] = data
			if err := st.RecordReceipt(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			m.State, m.Receipt = wire.SegUploaded, &r
		}
		commit(t, st, "dock-1", &n, wire.TypeSegmentManifest, m)
	}
	for _, s := range segs {
		manifest(s.seq, s.start, s.end, s.cause, s.seq%2 == 1) // the resumed ones are not uploaded yet
	}
	e := New(Config{Clock: clockwork.NewFakeClockAt(docked.Add(time.Hour))}, st, clip, speechBySeq{2: 0.3, 4: 5},
		nil, slog.New(slog.DiscardHandler))
	created, err := e.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 0 {
		t.Fatalf("first pass created %+v, want nothing while the resumed footage is on its way", created)
	}
	for _, s := range []int{1, 3} {
		s := segs[s]
		manifest(s.seq, s.start, s.end, s.cause, true) // now in the evidence store
	}
	created, err = e.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 1 || created[0].Key != KindUnexplained+"/R1/2" {
		t.Fatalf("second pass created %+v, want the unexplained interruption of seq 2", created)
	}
	for _, key := range []string{KindExplained + "/R1/4"} {
		a, ok, err := st.AlertByKey(ctx, key)
		if err != nil || !ok || a.State != store.AlertClosed || a.ClosedBy != "reason-check" {
			t.Errorf("%s: %+v %v %v, want closed by the reason check", key, a, ok, err)
		}
	}
	for _, key := range []string{KindUnchecked + "/R1/2", KindUnchecked + "/R1/4"} {
		if a, ok, err := st.AlertByKey(ctx, key); err != nil || ok {
			t.Errorf("%s: %+v: no unchecked alert may be raised while the footage is on its way", key, a)
		}
	}
	if open, err := st.Alerts(ctx, store.AlertFilter{State: store.AlertOpen}); err != nil || len(open) != 1 || open[0].Key != KindUnexplained+"/R1/2" {
		t.Fatalf("open alerts %+v (%v), want only the unexplained one", open, err)
	}
}

// Open alerts escalate after an hour by default (the collector's config
// documents that default and passes its zero value through); a negative
// period disables escalation.
func TestEscalationDefault(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(48 * time.Hour)
	for _, tc := range []struct {
		name     string
		escalate time.Duration
		want     int
	}{{"default", 0, 1}, {"disabled", -1, 0}, {"two hours", 2 * time.Hour, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"), &store.Opts{Logger: slog.New(slog.DiscardHandler), Clock: fixedClock(now)})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.UpsertAlert(ctx, store.Alert{Key: "sequence-hole/R1/2-2", Kind: "sequence-hole", Severity: alert.SeverityCritical,
				Unit: "unit-3", Serial: "R1", Seq: 2, Title: "hole", At: now.Add(-2 * time.Hour), OpenedAt: now.Add(-61 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
			// Delivered when it was raised.
			if ok, err := st.ClaimAnnouncement(ctx, "sequence-hole/R1/2-2"); err != nil || !ok {
				t.Fatal(ok, err)
			}
			var got []alert.Alert
			e := New(Config{Clock: stepClock{clockwork.NewRealClock(), &now}, Escalate: tc.escalate}, st, nil, nil,
				[]Deliverer{deliverFunc(func(a alert.Alert) { got = append(got, a) })}, slog.New(slog.DiscardHandler))
			if _, err := e.Pass(ctx); err != nil {
				t.Fatal(err)
			}
			a, _, err := st.AlertByKey(ctx, "sequence-hole/R1/2-2")
			if err != nil || a.Escalation != tc.want || len(got) != tc.want {
				t.Fatalf("escalation %d, %d deliveries (%v), want %d", a.Escalation, len(got), err, tc.want)
			}
			if tc.want > 0 && got[0].Title != "[escalation 1] hole" {
				t.Fatalf("escalated delivery %+v", got[0])
			}
		})
	}
}

type deliverFunc func(alert.Alert)

func (f deliverFunc) Deliver(_ context.Context, a alert.Alert) error { f(a); return nil }

// stepClock reads the time from *now, which the test sets; anything else
// it is asked (the store only stamps) is the real clock's.
type stepClock struct {
	clockwork.Clock
	now *time.Time
}

func (c stepClock) Now() time.Time { return *c.now }

// stepStore opens a SQLite store on the clock *now with dock-1 of unit-3
// enrolled; it is closed at cleanup.
func stepStore(t *testing.T, now *time.Time) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "c.db"),
		&store.Opts{Logger: slog.New(slog.DiscardHandler), Clock: stepClock{clockwork.NewRealClock(), now}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.EnrollDock(context.Background(), "dock-1", "unit-3", "token-0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	return st
}

// A pass rewrites only alerts whose content changed: the hole found again
// is left alone (no write), the overdue footage's growing age is refreshed.
func TestPassWritesOnlyChanges(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(30 * time.Hour)
	st := stepStore(t, &now)
	n := 0
	commit(t, st, "dock-1", &n, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "R1", Firmware: "2.0", Officer: "o-7",
		DockedAt: now, DockClock: now, DeviceClock: now, ClockSet: true,
		Battery: wire.Battery{Percent: 50, HealthPct: 95}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	for _, seq := range []uint64{1, 3} { // seq 2 missing; neither in storage, both over 24 h old
		start := t0.Add(time.Duration(seq) * time.Hour)
		commit(t, st, "dock-1", &n, wire.TypeSegmentManifest, &wire.SegmentManifest{Serial: "R1", Seq: seq, Start: start, End: start.Add(10 * time.Minute),
			Size: 10, SHA256: fmt.Sprintf("%064x", seq), StopCause: wire.StopUser, Officer: "o-7", State: wire.SegBuffered, ClockSyncedAt: now})
	}
	e := New(Config{Clock: stepClock{clockwork.NewRealClock(), &now}, Escalate: -1, OfflineAfter: 24 * time.Hour}, st, nil, nil, nil, slog.New(slog.DiscardHandler))
	if _, err := e.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	hole0, _, _ := st.AlertByKey(ctx, "sequence-hole/R1/2-2")
	over0, _, _ := st.AlertByKey(ctx, "upload-overdue/R1/1")
	now = now.Add(time.Hour)
	if created, err := e.Pass(ctx); err != nil || len(created) != 0 {
		t.Fatalf("second pass created %v (%v)", created, err)
	}
	hole1, _, _ := st.AlertByKey(ctx, "sequence-hole/R1/2-2")
	over1, _, _ := st.AlertByKey(ctx, "upload-overdue/R1/1")
	if hole0.ID == 0 || !hole1.UpdatedAt.Equal(hole0.UpdatedAt) {
		t.Errorf("unchanged hole alert rewritten: updated %s, then %s", hole0.UpdatedAt, hole1.UpdatedAt)
	}
	if over0.ID == 0 || over1.Detail == over0.Detail || !over1.UpdatedAt.Equal(now) {
		t.Errorf("overdue alert not refreshed: %q at %s, then %q at %s", over0.Detail, over0.UpdatedAt, over1.Detail, over1.UpdatedAt)
	}
}

// A condition alert (footage not in storage after 24 h) closes by itself
// once the footage is stored; the late upload it became stays open.
func TestOverdueClosesWhenFootageArrives(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(30 * time.Hour)
	st := stepStore(t, &now)
	n := 0
	commit(t, st, "dock-1", &n, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "R1", Firmware: "2.0", Officer: "o-7",
		DockedAt: now, DockClock: now, DeviceClock: now, ClockSet: true,
		Battery: wire.Battery{Percent: 50, HealthPct: 95}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	sha := fmt.Sprintf("%064x", 1)
	commit(t, st, "dock-1", &n, wire.TypeSegmentManifest, &wire.SegmentManifest{Serial: "R1", Seq: 1, Start: t0, End: t0.Add(10 * time.Minute),
		Size: 10, SHA256: sha, StopCause: wire.StopUser, Officer: "o-7", State: wire.SegBuffered, ClockSyncedAt: now})
	e := New(Config{Clock: stepClock{clockwork.NewRealClock(), &now}, Escalate: -1, OfflineAfter: 24 * time.Hour}, st, nil, nil, nil, slog.New(slog.DiscardHandler))
	if _, err := e.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if a, ok, _ := st.AlertByKey(ctx, "upload-overdue/R1/1"); !ok || a.State != store.AlertOpen {
		t.Fatalf("no open overdue alert: %+v", a)
	}
	// The footage reaches the evidence store an hour later.
	now = now.Add(time.Hour)
	if err := st.RecordReceipt(ctx, wire.Receipt{Device: "R1", Seq: 1, ObjectID: sha, SHA256: sha, Size: 10, StoredAt: now, KeyID: "k", Signature: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	over, _, _ := st.AlertByKey(ctx, "upload-overdue/R1/1")
	if over.State != store.AlertClosed || over.ClosedBy == "" {
		t.Fatalf("overdue alert after the footage arrived: %+v", over)
	}
	late, ok, _ := st.AlertByKey(ctx, "late-upload/R1/1")
	if !ok || late.State != store.AlertOpen {
		t.Fatalf("late-upload alert: %+v (found %v)", late, ok)
	}
}

// The dock sets a recorder's clock when it measures it; a second session of
// the same docking (the link dropped) measures almost nothing. The drift of
// the first measurement must still be raised.
func TestClockDriftOfAnEarlierSnapshotRaised(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(30 * time.Hour)
	st := stepStore(t, &now)
	n := 0
	first, second := now.Add(-time.Minute), now
	for _, snap := range []struct {
		at     time.Time
		offset int64
	}{{first, 95_000}, {second, 3}} {
		commit(t, st, "dock-1", &n, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "R1", Firmware: "2.0", Officer: "o-7",
			DockedAt: snap.at, DockClock: snap.at, DeviceClock: snap.at.Add(time.Duration(snap.offset) * time.Millisecond), ClockOffsetMs: snap.offset, ClockSet: true,
			Battery: wire.Battery{Percent: 50, HealthPct: 95}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	}
	e := New(Config{Clock: stepClock{clockwork.NewRealClock(), &now}, Escalate: -1, OfflineAfter: 24 * time.Hour}, st, nil, nil, nil, slog.New(slog.DiscardHandler))
	if _, err := e.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	as, err := st.Alerts(ctx, store.AlertFilter{Kind: "clock-drift"})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || !as[0].At.Equal(first) {
		t.Fatalf("clock-drift alerts %+v, want one for the first snapshot at %s", as, first)
	}
}
