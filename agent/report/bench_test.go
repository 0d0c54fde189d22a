package report

import (
	"testing"
	"time"
)

// BenchmarkDrain measures the whole report path against an in-process
// broker: b.N slot reports queued in the badger outbox are published,
// acknowledged one by one by the fake collector, and deleted.
func BenchmarkDrain(b *testing.B) {
	br := startMochi(b, "127.0.0.1:0")
	dock := newDock(b)
	box := newBox(b)
	newCollector(b, br.addr, dock, true)
	put(b, box, dock, b.N)
	cfg := testConfig(dock, br.addr)
	cfg.AckTimeout = time.Minute // measure the first pass, not republishing
	b.ResetTimer()
	start := time.Now()
	r := startReporter(b, cfg, box, nil)
	eventually(b, 5*time.Minute, "outbox drained", func() bool { return box.Len() == 0 })
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reports/s")
	if err := r.stop(b); err != nil {
		b.Fatal(err)
	}
}
