package store

import (
	"context"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// TestRecorderEventsTrust: a recorder's event log is kept as read, listed
// once per index, and believed only from the dock that reported the
// docking it names; a dock the recorder policy keeps from the recorder
// changes nothing.
func TestRecorderEventsTrust(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s)
		if err := s.EnrollDockBy(ctx, "dock-a2", "u-a", "token-of-dock-a2-0123456789", "admin-1"); err != nil {
			t.Fatal(err)
		}
		now := b.clock.Now()
		d1, d2 := now.Add(-3*time.Hour), now.Add(-time.Hour)
		ev := func(i uint64, at time.Time, kind string, seq uint64) wire.RecorderEvent {
			return wire.RecorderEvent{Index: i, Time: at, Kind: kind, Seq: seq, Detail: "d"}
		}
		base := now.Add(-10 * time.Hour)
		commit(t, s, msg(t, "dock-a", "h1", d1, health("REC-A", d1)),
			msg(t, "dock-a", "e1", d1, &wire.RecorderEvents{Serial: "REC-A", DockedAt: d1, Events: []wire.RecorderEvent{
				ev(1, base, wire.EventPowerOn, 0), ev(2, base.Add(time.Minute), wire.EventRecordStart, 1),
				ev(3, base.Add(2*time.Minute), wire.EventLowBattery, 1)}}))
		// The same events read again at the next docking (the dock lost its
		// place), and one forged by another dock of the unit for a docking
		// it never reported.
		commit(t, s, msg(t, "dock-a", "h2", d2, health("REC-A", d2)),
			msg(t, "dock-a", "e2", d2, &wire.RecorderEvents{Serial: "REC-A", DockedAt: d2, Events: []wire.RecorderEvent{
				ev(3, base.Add(2*time.Minute), wire.EventLowBattery, 1), ev(4, base.Add(3*time.Minute), wire.EventRecordStop, 1)}}),
			msg(t, "dock-a2", "x1", d2, &wire.RecorderEvents{Serial: "REC-A", DockedAt: d2, Events: []wire.RecorderEvent{
				ev(5, base.Add(4*time.Minute), wire.EventFault, 1)}}))
		got, err := s.RecorderEvents(ctx, "REC-A", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var idx []uint64
		for _, e := range got {
			idx = append(idx, e.Index)
		}
		if len(got) != 4 || idx[0] != 1 || idx[3] != 4 {
			t.Fatalf("events %v: want 1..4 once each, not dock-a2's", idx)
		}
		if e := got[2]; e.Kind != wire.EventLowBattery || !e.DockedAt.Equal(d1) || e.Dock != "dock-a" || e.Seq != 1 || !e.Time.Equal(base.Add(2*time.Minute)) {
			t.Errorf("event 3 = %+v: want as first read at %s", e, d1)
		}
		if n := b.count(t, s, `SELECT count(*) FROM recorder_events WHERE dock = 'dock-a2'`); n != 1 {
			t.Errorf("dock-a2's report: %d rows (kept, not believed)", n)
		}
		// Once dock-a2 reports that docking, its word counts.
		commit(t, s, msg(t, "dock-a2", "x2", d2, health("REC-A", d2)))
		if got, _ = s.RecorderEvents(ctx, "REC-A", base.Add(3*time.Minute), base.Add(time.Hour)); len(got) != 2 || got[1].Index != 5 {
			t.Errorf("window after dock-a2's docking: %+v", got)
		}
		// Another unit's dock may not report on REC-B's log at all.
		commit(t, s, msg(t, "dock-a", "e3", now, &wire.RecorderEvents{Serial: "REC-B", DockedAt: now, Events: []wire.RecorderEvent{
			ev(1, base, wire.EventPowerOff, 0)}}))
		if n := b.count(t, s, `SELECT count(*) FROM recorder_events WHERE serial = 'REC-B'`); n != 0 {
			t.Errorf("dock-a's events for REC-B stored: %d rows", n)
		}
		if s.Refused(KindRecorderRefused) == 0 {
			t.Error("refusal not counted")
		}
	})
}
