package collector_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/analysis"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/timeline"
	"github.com/berthdock/berth/firmware-protocol/recsim"
	"github.com/berthdock/berth/firmware-protocol/recsim/fixtures"
)

// TestSlowDockingJudgedOnWholeInventory (issue 11): recorders docked over a
// link so slow that the analysis runs many times mid-copy, the dock copying
// the segment that follows an interruption first. At no moment may the
// collector raise a hole, a lost tail or an abnormal stop that the
// recorder's inventory accounts for, nor an "unchecked" interruption while
// its footage is on its way; the real hole and the footage lost at the end
// of a sequence are alerted, and nothing is ever withdrawn (nothing false
// was raised). On SQLite and PostgreSQL.
func TestSlowDockingJudgedOnWholeInventory(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow docking takes seconds")
	}
	t.Run("sqlite", func(t *testing.T) { slowDocking(t, "", "") })
	t.Run("postgres", func(t *testing.T) {
		dsn, schema := hostilePG(t)
		slowDocking(t, dsn, schema)
	})
}

func slowDocking(t *testing.T, dsn, schema string) {
	_ = fixtures.Recorder // the clips the plans use
	// ~300 KB a recorder at 40 kB/s: about 8 s of copying each.
	slow := recsim.Config{Rate: 40_000}
	withFault := func(n uint64) recsim.Config {
		c := slow
		c.Faults = []recsim.Fault{{Kind: recsim.FaultMissingSeq, N: n}}
		return c
	}
	plans := []tlRecorder{
		// A low-battery stop resumed 2 min later with the spoken reason:
		// seq 3 follows the interruption and is copied first.
		{serial: "WP-INT", ago: 2 * time.Hour, cfg: slow,
			takes: []tlTake{{1, 0, "auto-split"}, {2, 0, "low-battery"}, {4, 2 * time.Minute, "user"}}},
		// Seq 2 gone from the inventory, last_seq 3: a real hole.
		{serial: "WP-HOLE", ago: 2 * time.Hour, cfg: withFault(2),
			takes: []tlTake{{1, 0, "user"}, {3, 20 * time.Minute, "user"}, {5, 20 * time.Minute, "user"}}},
		// Seq 3 gone, last_seq 3: footage lost at the end of the sequence.
		{serial: "WP-TAIL", ago: 2 * time.Hour, cfg: withFault(3),
			takes: []tlTake{{1, 0, "user"}, {3, 20 * time.Minute, "user"}, {5, 20 * time.Minute, "user"}}},
	}
	w := tlStart(t, plans, time.Now(), func(cc *collector.Config) { cc.Store, cc.Schema = dsn, schema })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// real: the only findings allowed, per recorder (closed explained
	// interruptions and the unchecked one once its footage is in aside).
	real := map[string]string{"WP-HOLE": "sequence-hole/WP-HOLE/2-2", "WP-TAIL": "sequence-hole/WP-TAIL/3-3"}
	judged := map[string]bool{timeline.KindSequenceHole: true, analysis.KindTailLost: true, timeline.KindAbnormalNoResume: true}
	check := func(when string) {
		t.Helper()
		all, err := w.Col.Store().Alerts(ctx, store.AlertFilter{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range all {
			if !strings.HasPrefix(a.Serial, "WP-") {
				continue
			}
			if strings.Contains(a.ClosedBy, "withdrawn") {
				t.Errorf("%s: %s was withdrawn (%s): it was raised falsely", when, a.Key, a.ClosedBy)
			}
			switch {
			case judged[a.Kind] && real[a.Serial] != a.Key:
				t.Errorf("%s: false alert %s: %s", when, a.Key, a.Detail)
			case a.Kind == analysis.KindUnchecked:
				segs, err := w.Col.Store().Segments(ctx, a.Serial, time.Time{}, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range segs {
					if s.Seq == a.Seq && s.Receipt == nil {
						t.Errorf("%s: %s raised while its footage is on its way", when, a.Key)
					}
				}
			}
		}
	}

	if err := w.DockAll(); err != nil {
		t.Fatal(err)
	}
	midCopy := 0
	for !w.Settled(ctx) {
		copying := false
		for _, s := range w.Sys.Dock.Status().Slots {
			copying = copying || s.Copied < s.Segments
		}
		if _, err := w.Col.Engine().Pass(ctx); err != nil {
			t.Fatalf("pass mid-copy: %v", err)
		}
		if copying {
			midCopy++
		}
		check("mid-copy pass " + time.Now().Format(time.TimeOnly))
		if ctx.Err() != nil {
			t.Fatalf("not settled: %+v", w.Sys.Dock.Status())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if midCopy < 3 {
		t.Errorf("the analysis ran %d times mid-copy; the link is not slow enough to test anything", midCopy)
	}
	if err := w.WaitSettled(ctx, time.Minute, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Col.Engine().Pass(ctx); err != nil {
		t.Fatal(err)
	}
	check("settled")
	for serial, key := range real {
		a, ok, err := w.Col.Store().AlertByKey(ctx, key)
		if err != nil || !ok || a.State != store.AlertOpen || a.Severity != "critical" ||
			serial == "WP-TAIL" && (a.Kind != analysis.KindTailLost || !strings.Contains(a.Detail, "after the last listed segment")) {
			t.Errorf("%s: real finding %s: %+v ok %v err %v", serial, key, a, ok, err)
		}
	}
	t.Logf("%d analysis passes ran mid-copy", midCopy)
	tally, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tally.Problems {
		t.Error(p)
	}
}
