package main

import (
	"context"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// crashRestartFootage: 96 segments of 128 to 320 KiB, about 7 s of copying
// and 15 s of uploading of an undisturbed dock, long enough for two
// collector restarts in each phase.
var crashRestartFootage = crashFootage{Recorders: 4, Segments: 24, MinSize: 128 << 10, MaxSize: 320 << 10,
	RecRate: 768 << 10, UploadRate: 2 << 20}

// TestCrashRestartBrokerAndCollector keeps dockd running while the
// collector, with its embedded broker, is stopped and started again on the
// same data directory and ports four times (twice while the dock copies,
// twice while it only uploads). At the end nothing may be lost, altered,
// stored twice or released without a receipt, every report in the dock's
// outbox must have been acknowledged, and the collector must hold every
// segment's manifest as released.
func TestCrashRestartBrokerAndCollector(t *testing.T) {
	const restarts, whileCopying = 4, 2
	rng := crashSeed(t)
	r := crashNewRig(t, crashRestartFootage)
	began := time.Now()
	r.startDockd()
	phases := map[string]int{}
	var down time.Duration
	for i := range restarts {
		want := "uploading"
		if i < whileCopying {
			want = "copying"
		}
		// A random moment of the wanted phase.
		deadline := time.Now().Add(time.Minute)
		for {
			time.Sleep(300*time.Millisecond + time.Duration(rng.Int64N(int64(1500*time.Millisecond))))
			st, err := r.status()
			if err == nil && crashPhase(st) == want {
				t.Logf("restart %d at %s: %s", i+1, time.Since(began).Round(time.Millisecond), crashProgress(st))
				break
			}
			if err == nil && want == "uploading" && r.settled(st) || time.Now().After(deadline) {
				t.Fatalf("restart %d: no %s to interrupt (%s, %v): the footage is too small", i+1, want, crashProgress(st), err)
			}
		}
		phases[want]++
		stopped := time.Now()
		r.stopCollector()
		// The dock finds no broker and no upload endpoint for a while.
		time.Sleep(200*time.Millisecond + time.Duration(rng.Int64N(int64(1300*time.Millisecond))))
		r.startCollector()
		down += time.Since(stopped)
	}
	t.Logf("%d collector and broker restarts (%d while copying, %d while only uploading), down %s in all",
		restarts, phases["copying"], phases["uploading"], down.Round(time.Millisecond))

	st := r.waitSettled(2 * time.Minute)
	t.Logf("settled %s after the start: outbox %d pending, MQTT connected %v", time.Since(began).Round(time.Millisecond), st.OutboxPending, st.MQTTConnected)
	if st.OutboxPending != 0 {
		t.Errorf("outbox holds %d unacknowledged reports", st.OutboxPending)
	}
	r.stopDockd()
	r.report(r.check())

	// The reports went through the restarts: the collector holds every
	// segment's manifest, released.
	ctx := context.Background()
	for _, rec := range r.w.Recs.Recorders() {
		segs, err := r.w.Col.Store().Segments(ctx, rec.Serial(), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) != len(r.w.Orig[rec.Serial()]) {
			t.Errorf("%s: collector holds %d manifests, want %d", rec.Serial(), len(segs), len(r.w.Orig[rec.Serial()]))
		}
		for _, g := range segs {
			if g.State != wire.SegReleased {
				t.Errorf("%s/%d: collector has state %q, want %q", g.Serial, g.Seq, g.State, wire.SegReleased)
			}
		}
	}
}
