package collector_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/collector"
)

// runCollector makes a collector from cc, runs it until the test ends
// (cancel stops it; Run's error fails the test) and returns once its ingest
// is subscribed: a report published before would find no subscriber.
func runCollector(t *testing.T, ctx context.Context, cancel context.CancelFunc, cc collector.Config, log *slog.Logger) *collector.Collector {
	t.Helper()
	col, err := collector.New(ctx, cc, collector.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- col.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("collector Run: %v", err)
		}
		col.Close()
	})
	select {
	case <-col.Ingest().Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("ingest not ready")
	}
	return col
}
