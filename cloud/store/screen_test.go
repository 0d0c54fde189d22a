package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// A dock may not report for another unit's recorder, nor date a health
// report beyond the skew: such reports change nothing (their message ids
// are committed so the dock's outbox stops resending) and raise alerts; a
// recorder's unit comes from enrolment, never from a report.
func TestReportScreening(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s)
		now := b.clock.Now()

		genuine := health("REC-B", now.Add(-time.Hour))
		genuine.Unit = "u-b"
		commit(t, s, msg(t, "dock-b", "b1", now.Add(-time.Hour), genuine))

		hostile := health("REC-B", now.Add(200*24*time.Hour))
		hostile.Unit = "u-nowhere"
		future := health("REC-A", now.Add(time.Hour))
		mine := health("REC-A", now.Add(-time.Minute))
		mine.Unit = "u-nowhere" // a report cannot move a recorder
		seg := manifest("REC-B", 9, now.Add(-2*time.Hour), 0)
		fw := &wire.FirmwareProgress{Campaign: "fw-1", Serial: "REC-B", Slot: 1, Model: "BWC", Version: "2.5.0",
			State: wire.FwInstalled, Held: 10, Size: 10, At: now.Add(-time.Minute)}
		inv := &wire.Docking{Serial: "REC-B", DockedAt: now.Add(-time.Minute), Phase: wire.DockingInventory, LastSeq: 40, Part: 1, Parts: 1,
			Segments: []wire.InventoryEntry{{Seq: 40, Start: now.Add(-3 * time.Hour), End: now.Add(-2 * time.Hour), Size: 10,
				SHA256: fmt.Sprintf("%064x", 40), StopCause: wire.StopUser}}}
		dup := commit(t, s, msg(t, "dock-a", "a1", now, hostile), msg(t, "dock-a", "a2", now, future),
			msg(t, "dock-a", "a3", now, mine), msg(t, "dock-a", "a4", now, seg), msg(t, "dock-a", "a7", now, fw),
			msg(t, "dock-a", "a8", now, inv))
		for i, d := range dup {
			if d {
				t.Errorf("message %d reported as a duplicate", i)
			}
		}
		// Redelivered: acknowledged as already committed.
		if dup := commit(t, s, msg(t, "dock-a", "a1", now, hostile)); !dup[0] {
			t.Error("a refused message is not remembered: the dock's outbox would resend it for ever")
		}

		devs, err := s.Devices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Device{}
		for _, d := range devs {
			got[d.Serial] = d
		}
		if d := got["REC-B"]; d.Unit != "u-b" || d.LastDock != "dock-b" || !d.LastDockedAt.Equal(now.Add(-time.Hour)) {
			t.Errorf("REC-B = %+v: dock-a's report changed it", d)
		}
		if d := got["REC-A"]; d.Unit != "u-a" || !d.LastDockedAt.Equal(now.Add(-time.Minute)) {
			t.Errorf("REC-A = %+v: want its own dock's report, unit from enrolment", d)
		}
		if n := b.count(t, s, `SELECT count(*) FROM device_health WHERE dock = 'dock-a' AND serial = 'REC-B'`); n != 0 {
			t.Errorf("%d history rows from dock-a for REC-B", n)
		}
		if segs, err := s.Segments(ctx, "REC-B", time.Time{}, time.Time{}); err != nil || len(segs) != 0 {
			t.Errorf("dock-a's manifest for REC-B stored: %+v %v", segs, err)
		}
		if sum, ok, err := s.Dockings(ctx, "REC-B"); err != nil || ok {
			t.Errorf("dock-a's inventory of REC-B stored: %+v %v", sum, err)
		}
		if fwp, err := s.FirmwareProgress(ctx, "fw-1"); err != nil || len(fwp) != 0 {
			t.Errorf("dock-a's firmware progress for REC-B stored: %+v %v", fwp, err)
		}
		refused, err := s.Alerts(ctx, AlertFilter{Kind: KindRecorderRefused})
		if err != nil || len(refused) != 1 || refused[0].Unit != "u-b" || refused[0].Dock != "dock-a" {
			t.Errorf("recorder-refused alerts %+v %v (health and manifest share one alert per dock and recorder)", refused, err)
		}
		late, err := s.Alerts(ctx, AlertFilter{Kind: KindReportTime})
		if err != nil || len(late) != 1 || late[0].Unit != "u-a" || late[0].Serial != "REC-A" {
			t.Errorf("report-time alerts %+v %v", late, err)
		}

		// Enrolled-only: a recorder not enrolled is refused too.
		s.policy = RecordersEnrolledOnly
		commit(t, s, msg(t, "dock-a", "a5", now, health("REC-X", now.Add(-time.Minute))))
		if devs, _ := s.Devices(ctx); len(devs) != 2 {
			t.Errorf("devices %+v: REC-X not enrolled must not be stored under enrolled-only", devs)
		}
		s.policy = RecordersProtected
		commit(t, s, msg(t, "dock-a", "a6", now, health("REC-Y", now.Add(-time.Minute))))
		devs, _ = s.Devices(ctx)
		if len(devs) != 3 || devs[2].Serial != "REC-Y" || devs[2].Unit != "u-a" {
			t.Errorf("devices %+v: REC-Y not enrolled is accepted under protected, in its dock's unit (not the reported unit-3)", devs)
		}
	})
}
