package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// traffic generates a realistic mix of fresh dock reports: 40% segment
// manifests, 25% audit records (each dock's chain continues), 15% slot
// states, 10% device health, 10% dock states, spread over many docks.
type traffic struct {
	mu    sync.Mutex
	n     int
	docks int
	prev  map[string]*wire.AuditRecord
	seq   map[string]uint64
}

func newTraffic(docks int) *traffic {
	return &traffic{docks: docks, prev: map[string]*wire.AuditRecord{}, seq: map[string]uint64{}}
}

func (g *traffic) batch(size int) []Incoming {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Incoming, 0, size)
	for range size {
		g.n++
		dock := fmt.Sprintf("dock-%04d", g.n%g.docks)
		serial := fmt.Sprintf("R%05d", g.n%(g.docks*8))
		at := t0.Add(time.Duration(g.n) * time.Millisecond)
		var body wire.Body
		var typ string
		switch k := g.n % 20; {
		case k < 8:
			seq := g.seq[serial]
			g.seq[serial] = seq + 1
			m := manifest(serial, seq, at, 1200)
			m.Computed = m.SHA256
			body, typ = m, wire.TypeSegmentManifest
		case k < 13:
			r := &wire.AuditRecord{Time: at, Action: wire.AuditCopied, Slot: g.n % 8, Serial: serial, Detail: "copied"}
			if err := r.Seal(dock, g.prev[dock]); err != nil {
				panic(err)
			}
			g.prev[dock] = r
			body, typ = r, wire.TypeAuditRecord
		case k < 16:
			body, typ = &wire.SlotState{Slot: g.n % 8, State: wire.SlotCopying, Serial: serial, Segments: 12, Copied: 3}, wire.TypeSlotState
		case k < 18:
			body, typ = health(serial, at), wire.TypeDeviceHealth
		default:
			body, typ = &wire.DockState{State: wire.DockOnline, Slots: 8, BufferBytes: 1 << 30, BufferCapacity: 8 << 30}, wire.TypeDockState
		}
		out = append(out, Incoming{Env: wire.Envelope{V: wire.SchemaVersion, ID: fmt.Sprintf("m-%d", g.n), Dock: dock,
			Time: at, Type: typ}, Body: body})
	}
	return out
}

// benchCommit commits b.N batches. rate 0: as fast as workers can (a
// closed loop: measures throughput; latency then is queueing at
// saturation). rate > 0: batches arrive at rate msgs/s (an open loop, as
// from MQTT) and latency runs from arrival to committed.
func benchCommit(b *testing.B, be *backend, batch, workers, rate int) {
	s := be.open(b)
	g := newTraffic(500)
	ctx := context.Background()
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	type job struct {
		msgs    []Incoming
		arrived time.Time
	}
	jobs := make(chan job, max(workers, b.N))
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				t := time.Now()
				if rate > 0 {
					t = j.arrived
				}
				if _, err := s.Commit(ctx, j.msgs); err != nil {
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
	var tick <-chan time.Time
	if rate > 0 {
		tk := time.NewTicker(time.Duration(float64(time.Second) * float64(batch) / float64(rate)))
		defer tk.Stop()
		tick = tk.C
	}
	for range b.N {
		msgs := g.batch(batch)
		if tick != nil {
			<-tick
		}
		jobs <- job{msgs, time.Now()}
	}
	close(jobs)
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(b.N*batch)/el.Seconds(), "msgs/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	}
}

type benchCase struct{ batch, workers, rate int }

func (c benchCase) String() string {
	r := "max"
	if c.rate > 0 {
		r = fmt.Sprint(c.rate)
	}
	return fmt.Sprintf("batch=%d/workers=%d/rate=%s", c.batch, c.workers, r)
}

// BenchmarkCommitPG measures Commit into PostgreSQL: go test -run '^$'
// -bench CommitPG ./cloud/store. rate=5000 is the ingest target (5,000
// msgs/s with p99 commit latency under 250 ms).
func BenchmarkCommitPG(b *testing.B) {
	for _, c := range []benchCase{{100, 1, 0}, {1000, 1, 0}, {100, 4, 0}, {1000, 4, 0}, {100, 2, 5000}, {500, 2, 5000}} {
		b.Run(c.String(), func(b *testing.B) { benchCommit(b, newPG(b), c.batch, c.workers, c.rate) })
	}
}

// BenchmarkCommitSQLite measures Commit into a SQLite file (synchronous=FULL).
func BenchmarkCommitSQLite(b *testing.B) {
	for _, c := range []benchCase{{100, 1, 0}, {1000, 1, 0}, {1000, 4, 0}, {100, 1, 5000}} {
		b.Run(c.String(), func(b *testing.B) { benchCommit(b, newSQLite(b), c.batch, c.workers, c.rate) })
	}
}
