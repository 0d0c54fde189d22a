package dock_test

import (
	"context"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// TestEventLogEndToEnd: through the real dock path (recsim over DockLink,
// dockd's slot, buffer and outbox, MQTT, the collector's ingest and
// store), each docking ships the recorder's event log from where the last
// one stopped, and the collector holds it exactly as the recorder logged
// it, each event once.
func TestEventLogEndToEnd(t *testing.T) {
	w := startE2E(t, "embedded", "sqlite", 1)
	ctx := context.Background()
	rec := w.Recs.Recorders()[0]
	before := len(rec.Events())
	if before == 0 {
		t.Fatal("the generated recorder logged nothing")
	}
	if err := w.DockAll(); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitSettled(ctx, 90*time.Second, 0); err != nil {
		t.Fatal(err)
	}
	first := checkLog(t, w.Col.Store(), rec)
	if first < before {
		t.Fatalf("collector holds %d events after the first docking; the recorder had logged %d before it", first, before)
	}
	logged := len(rec.Events()) // now with the releases of the first docking

	// Out and back in: the second docking ships only what is new.
	sim := w.Sys.Board.Sim()
	if err := sim.Remove(0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "slot empty", func() bool { return w.Sys.Dock.Status().Slots[0].State == wire.SlotEmpty })
	if err := sim.Insert(0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second docking reported", func() bool {
		h, err := w.Col.Store().DeviceHealth(ctx, rec.Serial(), time.Time{}, time.Time{})
		return err == nil && len(h) == 2
	})
	if err := w.WaitSettled(ctx, 90*time.Second, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	second := checkLog(t, w.Col.Store(), rec)
	if second < logged || second <= first {
		t.Fatalf("after the second docking the collector holds %d events; the recorder had %d when it docked again (%d after the first)",
			second, logged, first)
	}
	// The second docking shipped what was new, under its own docking.
	evs, _ := w.Col.Store().RecorderEvents(ctx, rec.Serial(), time.Time{}, time.Time{})
	if got, last := evs[first].DockedAt, evs[len(evs)-1].DockedAt; !got.Equal(last) || got.Equal(evs[0].DockedAt) {
		t.Errorf("event %d read at the docking of %s, event 1 at %s: the new events belong to the second docking", first+1, got, evs[0].DockedAt)
	}
	if c, err := w.Sys.Buffer.EventCursor(rec.Serial()); err != nil || c.Index != uint64(second) {
		t.Errorf("dock's cursor %+v (%v), want the last shipped index %d", c, err, second)
	}
}

// checkLog compares the collector's copy of rec's log with the recorder's
// own and returns how many events the collector holds (indexes 1..n).
func checkLog(t *testing.T, cs *store.Store, rec *recsim.Recorder) int {
	t.Helper()
	got, err := cs.RecorderEvents(context.Background(), rec.Serial(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	own := rec.Events()
	for i, e := range got {
		if e.Index != uint64(i+1) || i >= len(own) {
			t.Fatalf("collector's event %d has index %d (recorder logged %d)", i, e.Index, len(own))
		}
		o := own[i]
		if e.Kind != o.Kind.String() || e.Seq != o.Seq || !e.Time.Equal(o.Time) || e.Detail != o.Detail {
			t.Errorf("event %d: collector %+v, recorder %+v", e.Index, e, o)
		}
	}
	return len(got)
}

// waitFor polls ok for up to 30 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
