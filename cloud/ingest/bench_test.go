package ingest_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/ingest"
	"github.com/berthdock/berth/cloud/store"
)

// timedStore records the duration of every Commit.
type timedStore struct {
	*store.Store
	mu   sync.Mutex
	durs []time.Duration
}

func (s *timedStore) Commit(ctx context.Context, msgs []store.Incoming) ([]bool, error) {
	start := time.Now()
	dup, err := s.Store.Commit(ctx, msgs)
	s.mu.Lock()
	s.durs = append(s.durs, time.Since(start))
	s.mu.Unlock()
	return dup, err
}

func p(durs []time.Duration, q float64) time.Duration {
	if len(durs) == 0 {
		return 0
	}
	s := slices.Clone(durs)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*q))]
}

// BenchmarkIngest: sustained ingest of segment manifests from 50 simulated
// docks (each keeping up to 100 reports awaiting ack, as agent/report's
// outbox does) through a real broker into a real store, each report
// committed and acknowledged to its dock. b.N is the number of reports;
// run with -benchtime 20000x. Reports msgs/s (first publish to last ack),
// p50/p99 commit latency (one store.Commit) and p99 end-to-end latency
// (dock publish to the dock seeing the ack), and this process's CPU per
// report.
func BenchmarkIngest(b *testing.B) {
	for _, tc := range []struct{ broker, store string }{{"mosquitto", "postgres"}, {"embedded", "sqlite"}, {"embedded", "postgres"}} {
		b.Run(tc.broker+"-"+tc.store, func(b *testing.B) {
			d := sqliteDB(b)
			if tc.store == "postgres" {
				d = pgDB(b)
			}
			st := d.open(b)
			e := env(b, tc.broker, st)
			const nDocks, window = 50, 100
			prefix := "tb" + randHex(4)
			docks := newDocks(b, st, prefix, nDocks)
			ts := &timedStore{Store: st}
			startCollector(b, e, ts, "g-"+randHex(4), dockFilters(docks), func(c *ingest.Config) {
				c.Conns, c.Committers, c.MaxBatch, c.FlushInterval = 8, 2, 200, 10*time.Millisecond
			})
			outboxes := make([][]outMsg, nDocks)
			for i, dk := range docks {
				dk.connect(b, e)
				outboxes[i] = dk.manifests(b, (b.N+nDocks-1)/nDocks)
			}
			total := 0
			for _, o := range outboxes {
				total += len(o)
			}
			sent := make([]map[string]time.Time, nDocks)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			errs := make(chan error, nDocks)
			for i, dk := range docks {
				sent[i] = map[string]time.Time{}
				go func() { errs <- dk.send(ctx, outboxes[i], window, 30*time.Second, sent[i]) }()
			}
			for range docks {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			b.StopTimer()
			if n := d.count(b, d.raw(b), "messages", prefix); n != total {
				b.Fatalf("%d committed, want %d", n, total)
			}
			var e2e []time.Duration
			for i, dk := range docks {
				dk.mu.Lock()
				for id, at := range dk.ackedAt {
					e2e = append(e2e, at.Sub(sent[i][id]))
				}
				dk.mu.Unlock()
			}
			ts.mu.Lock()
			durs := slices.Clone(ts.durs)
			ts.mu.Unlock()
			b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(p(durs, 0.50).Microseconds())/1000, "commit-p50-ms")
			b.ReportMetric(float64(p(durs, 0.99).Microseconds())/1000, "commit-p99-ms")
			b.ReportMetric(float64(p(e2e, 0.99).Microseconds())/1000, "ack-p99-ms")
			b.ReportMetric(float64(total)/float64(max(len(durs), 1)), "msgs/commit")
			// CPU of this process (collector, simulated docks, in-process
			// broker) per report: what the figures cost, whatever else
			// shares the machine.
			b.ReportMetric(float64(cpu.Microseconds())/float64(total), "cpu-us/msg")
			if b.N > 1000 {
				b.Logf("%s: %d reports in %s, %d commits", tc.broker+"-"+tc.store, total, elapsed, len(durs))
			}
		})
	}
}
