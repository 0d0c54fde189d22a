package store

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// mixTraffic is traffic with every kind of report the commit path screens
// or cross-checks: 35% segment manifests, 15% "copied" and 5%
// "authenticated" audit records (the latter with the recorder's proof), 15%
// event-log reads, 10% slot states, 10% device health and 10% dock states.
// The docks are enrolled to one unit; every other recorder is enrolled to
// it too, with its own key, and the rest are enrolled nowhere (manifests of
// both kinds, proofs that verify and proofs with no key to check). Each
// event-log read carries the recorder's next 8 entries and, as a dock that
// lost its place does, the 2 it sent before, read again unchanged.
type mixTraffic struct {
	docks, recs int
	n           int
	prev        map[string]*wire.AuditRecord
	seq         map[string]uint64
	logIdx      map[string]uint64
}

func newMixTraffic(docks int) *mixTraffic {
	return &mixTraffic{docks: docks, recs: docks * 4, prev: map[string]*wire.AuditRecord{}, seq: map[string]uint64{},
		logIdx: map[string]uint64{}}
}

func mixDock(i int) string   { return fmt.Sprintf("mix-dock-%04d", i) }
func mixSerial(i int) string { return fmt.Sprintf("MIX%05d", i) }

// enrol enrols the unit, the docks and every even recorder.
func (g *mixTraffic) enrol(t testing.TB, s *Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.EnrollUnit(ctx, Unit{ID: "mix-unit", Name: "Mix", Custodian: "c-1"}, "bench"); err != nil {
		t.Fatal(err)
	}
	for d := range g.docks {
		if err := s.EnrollDock(ctx, mixDock(d), "mix-unit", fmt.Sprintf("token-%04d-xxxxxxxxxxxxxxxxxxxx", d)); err != nil {
			t.Fatal(err)
		}
	}
	for r := 0; r < g.recs; r += 2 {
		if err := s.EnrollRecorder(ctx, Recorder{Serial: mixSerial(r), Unit: "mix-unit",
			PublicKey: mixPriv(r).Public().(ed25519.PublicKey)}, "bench"); err != nil {
			t.Fatal(err)
		}
	}
}

func mixPriv(r int) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, fmt.Sprintf("mix-%d", r))
	return ed25519.NewKeyFromSeed(seed)
}

func (g *mixTraffic) batch(size int) []Incoming {
	out := make([]Incoming, 0, size)
	for range size {
		g.n++
		rec := g.n % g.recs
		dock, serial := mixDock(rec%g.docks), mixSerial(rec)
		at := t0.Add(time.Duration(g.n) * time.Millisecond)
		var body wire.Body
		var typ string
		audit := func(r *wire.AuditRecord) {
			if err := r.Seal(dock, g.prev[dock]); err != nil {
				panic(err)
			}
			g.prev[dock] = r
			body, typ = r, wire.TypeAuditRecord
		}
		switch k := g.n % 20; {
		case k < 7:
			seq := g.seq[serial]
			g.seq[serial] = seq + 1
			m := manifest(serial, seq, at, 1200)
			m.Computed = m.SHA256
			body, typ = m, wire.TypeSegmentManifest
		case k < 10:
			audit(&wire.AuditRecord{Time: at, Action: wire.AuditCopied, Slot: g.n % 8, Serial: serial, Detail: "copied"})
		case k < 11:
			r := &wire.AuditRecord{Time: at, Action: wire.AuditAuthenticated, Slot: g.n % 8, Serial: serial, Detail: "authenticated"}
			mixProve(r, dock, at, mixPriv(rec))
			audit(r)
		case k < 14:
			next := g.logIdx[serial]
			ev := &wire.RecorderEvents{Serial: serial, DockedAt: at}
			for i := max(next, 2) - 2; i < next+8; i++ {
				ev.Events = append(ev.Events, wire.RecorderEvent{Index: i + 1, Time: t0.Add(time.Duration(i) * time.Second),
					Kind: wire.EventDocked, Detail: "slot"})
			}
			g.logIdx[serial] = next + 8
			body, typ = ev, wire.TypeRecorderEvents
		case k < 16:
			body, typ = &wire.SlotState{Slot: g.n % 8, State: wire.SlotCopying, Serial: serial, Segments: 12, Copied: 3}, wire.TypeSlotState
		case k < 18:
			body, typ = health(serial, at), wire.TypeDeviceHealth
		default:
			body, typ = &wire.DockState{State: wire.DockOnline, Slots: 8, BufferBytes: 1 << 30, BufferCapacity: 8 << 30}, wire.TypeDockState
		}
		out = append(out, Incoming{Env: wire.Envelope{V: wire.SchemaVersion, ID: fmt.Sprintf("mix-%d", g.n), Dock: dock,
			Time: at, Type: typ}, Body: body})
	}
	return out
}

func mixCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCommitMix commits b.N batches of mixTraffic, generated before the
// timer starts, with workers committing at once (a closed loop).
func benchCommitMix(b *testing.B, be *backend, batch, workers int) {
	s := be.open(b)
	g := newMixTraffic(100)
	g.enrol(b, s)
	batches := make(chan []Incoming, b.N)
	for range b.N {
		batches <- g.batch(batch)
	}
	close(batches)
	ctx := context.Background()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpu0 := time.Now(), mixCPU()
	for range workers {
		wg.Go(func() {
			for msgs := range batches {
				t := time.Now()
				if _, err := s.Commit(ctx, msgs); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	el, cpu := time.Since(start), mixCPU()-cpu0
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(b.N*batch)/el.Seconds(), "msgs/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*batch), "cpu-us/msg")
	}
	// The mix did what it is for: event-log reads stored once per entry
	// and docking, re-reads compared, and (mixCheck) proofs verified.
	if n, want := be.count(b, s, `SELECT COUNT(*) FROM recorder_events`), b.N*batch*3/20*8; n < want {
		b.Fatalf("%d event rows stored, want about %d", n, want)
	}
	mixCheck(b, be, s)
}

// BenchmarkCommitMixPG: Commit into PostgreSQL of mixTraffic (every kind of
// report, enrolled and unenrolled recorders, proofs and event-log re-reads):
// go test -run '^$' -bench CommitMix -benchtime 300x ./cloud/store.
func BenchmarkCommitMixPG(b *testing.B) {
	for _, c := range []benchCase{{100, 1, 0}, {500, 2, 0}} {
		b.Run(c.String(), func(b *testing.B) { benchCommitMix(b, newPG(b), c.batch, c.workers) })
	}
}

// BenchmarkCommitMixSQLite: BenchmarkCommitMixPG's traffic into SQLite.
func BenchmarkCommitMixSQLite(b *testing.B) {
	for _, c := range []benchCase{{100, 1, 0}, {500, 1, 0}} {
		b.Run(c.String(), func(b *testing.B) { benchCommitMix(b, newSQLite(b), c.batch, c.workers) })
	}
}
