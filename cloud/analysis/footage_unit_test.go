package analysis

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/health"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/timeline"
	"github.com/berthdock/berth/cloud/wire"
)

// An alert about footage goes to the footage's unit (store.Segment.Unit,
// the store's footageUnit), an alert about the recorder to the
// recorder's. FREE is enrolled nowhere: dock-1 (u1) docks it and uploads
// seqs 1, 2 and 4 (a low-battery stop resumed at seq 2 without a spoken
// reason, then a user stop resumed at seq 4 with one; seq 3 missing);
// then dock-2 (u2) docks it and finds its clock off. The recorder now
// follows dock-2 (u2), but the interruptions and the hole are about
// footage u1's dock uploaded: they are u1's, and only the clock drift
// (measured at dock-2's docking) is u2's.
func TestFootageAlertsFollowFootageUnit(t *testing.T) {
	onBoth(t, func(t *testing.T, db workDB) {
		ctx := context.Background()
		st := db.open(t)
		for d, u := range map[string]string{"dock-1": "u1", "dock-2": "u2"} {
			if err := st.EnrollDock(ctx, d, u, "token-0123456789abcdef"); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		send := func(dock string, at time.Time, typ string, body any) {
			t.Helper()
			n++
			e, err := wire.NewEnvelope(fmt.Sprintf("m%d", n), dock, at, typ, body)
			if err != nil {
				t.Fatal(err)
			}
			b, err := wire.DecodeBody(e)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Commit(ctx, []store.Incoming{{Env: e, Body: b}}); err != nil {
				t.Fatal(err)
			}
		}
		docking := func(dock string, at time.Time, driftMs int64) {
			t.Helper()
			send(dock, at, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "FREE", Model: "BWC-7", Firmware: "2.0", Officer: "o-7",
				DockedAt: at, DockClock: at, DeviceClock: at.Add(time.Duration(driftMs) * time.Millisecond), ClockOffsetMs: driftMs, ClockSet: true,
				Battery: wire.Battery{Percent: 50, HealthPct: 95}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
		}
		docked1, docked2 := t0.Add(time.Hour), t0.Add(3*time.Hour)
		docking("dock-1", docked1, 0)
		clip := footage{}
		at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
		for _, s := range []struct {
			seq        uint64
			start, end int
			cause      string
		}{{1, 0, 10, wire.StopLowBattery}, {2, 14, 20, wire.StopUser}, {4, 22, 30, wire.StopUser}} {
			data := []byte(fmt.Sprintf("seq %d footage", s.seq))
			sha := fmt.Sprintf("%064x", s.seq)
			r := wire.Receipt{ObjectID: "sha256-" + sha, Device: "FREE", Seq: s.seq, SHA256: sha, Size: int64(len(data)),
				StoredAt: docked1.Add(time.Minute), KeyID: "k", Signature: "s"}
			clip[r.ObjectID] = data
			if err := st.RecordReceiptFrom(ctx, r, "dock-1"); err != nil {
				t.Fatal(err)
			}
			send("dock-1", docked1, wire.TypeSegmentManifest, &wire.SegmentManifest{Serial: "FREE", Seq: s.seq, Start: at(s.start),
				End: at(s.end), Size: r.Size, SHA256: sha, StopCause: s.cause, Officer: "o-7", State: wire.SegUploaded, Receipt: &r,
				ClockSyncedAt: docked1})
		}
		docking("dock-2", docked2, 60_000)

		e := New(Config{Clock: clockwork.NewFakeClockAt(docked2.Add(time.Hour))}, st, clip, speechBySeq{2: 0.6, 4: 4.5}, nil,
			slog.New(slog.DiscardHandler))
		if _, err := e.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		devs, err := st.DevicesOf(ctx, []string{"FREE"})
		if err != nil || len(devs) != 1 || devs[0].Unit != "u2" {
			t.Fatalf("FREE %+v %v: want the recorder in u2, its last dock's unit", devs, err)
		}
		for key, unit := range map[string]string{
			KindUnexplained + "/FREE/2":                                     "u1",
			KindExplained + "/FREE/4":                                       "u1",
			timeline.KindSequenceHole + "/FREE/3-3":                         "u1",
			health.KindClockDrift + "/FREE/" + docked2.Format(time.RFC3339): "u2",
		} {
			a, ok, err := st.AlertByKey(ctx, key)
			if err != nil || !ok {
				t.Errorf("alert %s: %v %v", key, ok, err)
				continue
			}
			if a.Unit != unit {
				t.Errorf("alert %s went to unit %q, want %q", key, a.Unit, unit)
			}
		}
	})
}
