package collector_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/console"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// TestHoleReleaseEndToEnd (issue 11 item 8): a recorder with a sequence
// hole keeps all its footage through its docking; a supervisor's decision,
// recorded with who and why, goes from the collector over MQTT to the
// dock, which keeps it (agent/slot tests it across a restart) and
// releases the receipted segments of the recorder still in its slot, never
// one without its receipt.
func TestHoleReleaseEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("a docking takes seconds")
	}
	const serial = "HR-HOLE"
	cfg := recsim.Config{Faults: []recsim.Fault{{Kind: recsim.FaultMissingSeq, N: 2}}}
	w := tlStart(t, []tlRecorder{{serial: serial, ago: 2 * time.Hour, cfg: cfg,
		takes: []tlTake{{1, 0, "user"}, {3, 20 * time.Minute, "user"}, {5, 20 * time.Minute, "user"}}}}, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w.dockAll(t)
	if _, err := w.Col.Engine().Pass(ctx); err != nil {
		t.Fatal(err)
	}
	rec := w.Recs.Recorders()[0]
	if got := rec.Released(); len(got) != 0 {
		t.Fatalf("released %v around an undecided hole", got)
	}
	if a, ok, err := w.Col.Store().AlertByKey(ctx, "sequence-hole/"+serial+"/2-2"); err != nil || !ok || a.State != store.AlertOpen {
		t.Fatalf("hole alert: %+v ok %v err %v", a, ok, err)
	}

	decided, err := w.Col.Store().ReleaseHoles(ctx, store.Actor{Name: "sup-zhang", Role: "supervisor"}, serial,
		"seq 2 was lost when the recorder was crushed; nothing to recover")
	if err != nil || len(decided) != 1 {
		t.Fatalf("decision: %+v (%v)", decided, err)
	}
	sent, err := console.DeliverHoleReleases(ctx, w.Col.Store(), w.Col, slog.New(slog.DiscardHandler))
	if err != nil || len(sent) != 1 {
		t.Fatalf("delivery: %v (%v)", sent, err)
	}
	waitUntil(t, ctx, "the dock keeps the decision", func() bool {
		kept, _, err := w.Sys.Buffer.HoleReleases()
		return err == nil && len(kept) == 1 && kept[0].Serial == serial && kept[0].From == 2 && kept[0].To == 2 && kept[0].By == "sup-zhang"
	})

	// The recorder is still in its slot: what has a receipt is released now.
	waitUntil(t, ctx, "the receipted segments released", func() bool {
		got := rec.Released()
		slices.Sort(got)
		return slices.Equal(got, []uint64{1, 3})
	})
	tally, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tally.Problems {
		t.Error(p)
	}
	if tally.Released != 2 {
		t.Errorf("tally: %s; want the 2 segments around the hole released", tally)
	}
}

func waitUntil(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		if ctx.Err() != nil {
			t.Fatalf("%s: not within the test's time", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
