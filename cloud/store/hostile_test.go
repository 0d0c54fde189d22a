package store

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// hostile are strings an attacker or a broken device might send. They are
// data: stored and read back byte for byte, never executed.
var hostile = []string{
	`'; DROP TABLE segments; --`,
	`" OR 1=1 --`,
	`$1 $2 ? ?? :name @p1`,
	`\'; SELECT pg_sleep(10); --`,
	"案件-2026-001 現場 🚓 \u202e",
	`<script>alert(1)</script>`,
	`%s %x %n {{.}}`,
}

func TestHostileStringsStoredSafely(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		var batch []Incoming
		for i, h := range hostile {
			seg := manifest("R1", uint64(i), t0.Add(time.Duration(i)*time.Hour), 0)
			seg.Media, seg.Fault = h, h
			if len(h) <= 128 {
				seg.CaseTag = h
			}
			batch = append(batch,
				msg(t, "dock-1", "seg-"+h, t0, seg), // hostile message id too
				msg(t, "dock-1", "slot-"+h, t0.Add(time.Duration(i)), &wire.SlotState{Slot: i, State: wire.SlotFault, Fault: h, Detail: h}),
			)
		}
		commit(t, s, batch...)
		dup := commit(t, s, batch...)
		for i, d := range dup {
			if !d {
				t.Errorf("redelivered hostile message %d not recognised", i)
			}
		}
		segs, err := s.Segments(ctx, "R1", time.Time{}, time.Time{})
		if err != nil || len(segs) != len(hostile) {
			t.Fatalf("segments %d, %v", len(segs), err)
		}
		for i, g := range segs {
			if g.Media != hostile[i] || g.Fault != hostile[i] {
				t.Errorf("segment %d media %q fault %q, want %q", i, g.Media, g.Fault, hostile[i])
			}
		}
		slots, err := s.Slots(ctx, "dock-1")
		if err != nil || len(slots) != len(hostile) {
			t.Fatalf("slots %d, %v", len(slots), err)
		}
		for i, sl := range slots {
			if sl.State.Detail != hostile[i] {
				t.Errorf("slot %d detail %q, want %q", i, sl.State.Detail, hostile[i])
			}
		}
		for i, h := range hostile {
			a := sampleAlert()
			a.Key, a.Title, a.Detail, a.Officer = h, h, h, h
			if created, err := s.UpsertAlert(ctx, a); err != nil || !created {
				t.Fatalf("alert %d: created=%v err=%v", i, created, err)
			}
			got, ok, err := s.AlertByKey(ctx, h)
			if err != nil || !ok || got.Title != h || got.Detail != h {
				t.Errorf("alert %q read back %+v %v %v", h, got, ok, err)
			}
			if err := s.AckAlert(ctx, got.ID, h, h); err != nil {
				t.Errorf("ack with hostile comment: %v", err)
			}
			if list, err := s.Alerts(ctx, AlertFilter{Kind: h}); err != nil || len(list) != 0 {
				t.Errorf("filter by hostile kind matched %d: %v", len(list), err)
			}
		}
		// Numbers at the edge of what the wire types allow are stored too.
		h := health("R-big", t0)
		h.Slot, h.Storage.HealthPct, h.Battery.Cycles, h.Battery.MilliVolts = math.MaxInt, math.MaxInt, math.MaxInt, math.MinInt
		h.Storage.TotalBytes, h.Storage.FreeBytes, h.Storage.BadBlocks = 1<<62, 1<<61, 1<<62
		commit(t, s,
			msg(t, "dock-1", "big-health", t0, h),
			msg(t, "dock-1", "big-cmd", t0, &wire.Command{Action: wire.CmdRefresh, Slot: math.MaxInt}),
			msg(t, "dock-1", "big-dock", t0, &wire.DockState{State: wire.DockOnline, Slots: math.MaxInt, BacklogSegments: math.MaxInt}),
			msg(t, "dock-1", "big-seg", t0, manifest("R-big", 1<<62, t0, maxOffsetMs)),
		)
		if hist, err := s.DeviceHealth(ctx, "R-big", time.Time{}, time.Time{}); err != nil || len(hist) != 1 || hist[0].Health.Slot != math.MaxInt {
			t.Errorf("big health %+v %v", hist, err)
		}
		if segs, err := s.Segments(ctx, "R-big", time.Time{}, time.Time{}); err != nil || len(segs) != 1 || segs[0].Seq != 1<<62 {
			t.Errorf("big segment %+v %v", segs, err)
		}
		// Every table is still there.
		for _, tbl := range []string{"segments", "slots", "alerts", "messages", "docks"} {
			if n := b.count(t, s, `SELECT count(*) FROM `+tbl); n == 0 {
				t.Errorf("table %s empty", tbl)
			}
		}
	})
}
