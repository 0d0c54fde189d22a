package store

import (
	"context"
	"fmt"
	"strings"
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

// TestRecorderEventConflicts: a read of an event-log entry that
// contradicts its first stored read is kept aside, counted and alerted to
// the recorder's unit, naming both docks and the entry; the first read
// stands for the analysis (marked disputed), whichever docking is
// earlier. Reads that agree, and redeliveries, say nothing.
func TestRecorderEventConflicts(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s)
		if err := s.EnrollDockBy(ctx, "dock-a2", "u-a", "token-of-dock-a2-0123456789", "admin-1"); err != nil {
			t.Fatal(err)
		}
		now := b.clock.Now()
		// dock-a2's docking is the earliest: before this fix its read of
		// an entry was the one listed, whenever it arrived.
		d0, d1, d2 := now.Add(-5*time.Hour), now.Add(-3*time.Hour), now.Add(-time.Hour)
		base := now.Add(-10 * time.Hour)
		ev := func(i uint64, kind string, detail string) wire.RecorderEvent {
			return wire.RecorderEvent{Index: i, Time: base.Add(time.Duration(i) * time.Minute), Kind: kind, Seq: 1, Detail: detail}
		}
		events := func(dock, id string, at time.Time, evs ...wire.RecorderEvent) Incoming {
			return msg(t, dock, id, at, &wire.RecorderEvents{Serial: "REC-A", DockedAt: at, Events: evs})
		}
		conflicts := func() int { return b.count(t, s, `SELECT count(*) FROM recorder_event_conflicts`) }
		alerts := func() []Alert {
			t.Helper()
			as, err := s.Alerts(ctx, AlertFilter{Kind: KindEventLogConflict})
			if err != nil {
				t.Fatal(err)
			}
			return as
		}
		commit(t, s, msg(t, "dock-a", "h1", d1, health("REC-A", d1)),
			events("dock-a", "e1", d1, ev(1, wire.EventPowerOn, ""), ev(2, wire.EventRecordStart, ""),
				ev(3, wire.EventLowBattery, "3400 mV")))
		// Agreeing reads: dock-a again at its next docking (it lost its
		// place), dock-a2 reading the recorder docked in it.
		b.clock.Advance(time.Minute)
		commit(t, s, msg(t, "dock-a", "h2", d2, health("REC-A", d2)),
			events("dock-a", "e2", d2, ev(3, wire.EventLowBattery, "3400 mV"), ev(4, wire.EventRecordStop, "")))
		b.clock.Advance(time.Minute)
		commit(t, s, msg(t, "dock-a2", "h0", d0, health("REC-A", d0)),
			events("dock-a2", "x0", d0, ev(1, wire.EventPowerOn, ""), ev(2, wire.EventRecordStart, "")))
		if n, as := conflicts(), alerts(); n != 0 || len(as) != 0 || s.Refused(KindEventLogConflict) != 0 {
			t.Fatalf("agreeing reads: %d conflicts, alerts %+v, counted %d", n, as, s.Refused(KindEventLogConflict))
		}
		// dock-a2 reads entry 3 otherwise (a fault, not low battery: what
		// the analysis would take as the stop cause), and a new entry 5.
		b.clock.Advance(time.Minute)
		forged := events("dock-a2", "x1", d0, ev(3, wire.EventFault, "dropped"), ev(5, wire.EventPowerOff, ""))
		commit(t, s, forged)
		got, err := s.RecorderEvents(ctx, "REC-A", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Fatalf("events %+v: want 1..5 once each", got)
		}
		if e := got[2]; e.Index != 3 || e.Kind != wire.EventLowBattery || e.Detail != "3400 mV" || e.Dock != "dock-a" || !e.Disputed {
			t.Errorf("entry 3 = %+v: want dock-a's first read, disputed", e)
		}
		for _, i := range []int{0, 1, 3, 4} {
			if got[i].Disputed {
				t.Errorf("entry %d disputed: %+v", got[i].Index, got[i])
			}
		}
		if e := got[4]; e.Index != 5 || e.Dock != "dock-a2" || e.Kind != wire.EventPowerOff {
			t.Errorf("entry 5 = %+v: want dock-a2's read", e)
		}
		if n := b.count(t, s, `SELECT count(*) FROM recorder_event_conflicts WHERE serial = 'REC-A' AND idx = 3
			AND dock = 'dock-a2' AND docked_ns = ? AND kind = ? AND detail = 'dropped' AND first_dock = 'dock-a' AND first_docked_ns = ?`,
			d0.UnixNano(), wire.EventFault, d1.UnixNano()); n != 1 || conflicts() != 1 {
			t.Errorf("conflicting read kept %d times (of %d)", n, conflicts())
		}
		if n := b.count(t, s, `SELECT count(*) FROM recorder_events WHERE idx = 3 AND kind <> ?`, wire.EventLowBattery); n != 0 {
			t.Errorf("%d contradicting rows among the reads the analysis uses", n)
		}
		as := alerts()
		if len(as) != 1 {
			t.Fatalf("alerts %+v", as)
		}
		a := as[0]
		if a.Severity != "warning" || a.Unit != "u-a" || a.Serial != "REC-A" || a.Dock != "dock-a2" || a.State != AlertOpen ||
			!strings.Contains(a.Title, "dock dock-a2's read contradicts the first read by dock dock-a (entries: 1)") ||
			!strings.Contains(a.Detail, "entry 3 read as fault") || !strings.Contains(a.Detail, "first read by dock dock-a ") ||
			!strings.Contains(a.Detail, "low-battery") {
			t.Errorf("alert %+v", a)
		}
		if s.Refused(KindEventLogConflict) != 1 {
			t.Errorf("counted %d conflicts, want 1", s.Refused(KindEventLogConflict))
		}
		// The same read delivered again (its message id pruned): nothing
		// new to keep, count or raise.
		b.clock.Advance(time.Minute)
		again := events("dock-a2", "x1-again", d0, ev(3, wire.EventFault, "dropped"), ev(5, wire.EventPowerOff, ""))
		commit(t, s, again)
		if n, as := conflicts(), alerts(); n != 1 || len(as) != 1 || s.Refused(KindEventLogConflict) != 1 {
			t.Errorf("redelivery: %d conflicts, %d alerts, counted %d", n, len(as), s.Refused(KindEventLogConflict))
		}
		// dock-a contradicting its own stored read of the same docking
		// (same row key) is kept too.
		b.clock.Advance(time.Minute)
		commit(t, s, events("dock-a", "e1-changed", d1, ev(1, wire.EventPowerOff, "")))
		if n := b.count(t, s, `SELECT count(*) FROM recorder_event_conflicts WHERE dock = 'dock-a' AND idx = 1 AND first_dock = 'dock-a'`); n != 1 {
			t.Errorf("dock-a's changed read of its own docking kept %d times", n)
		}
		if as := alerts(); len(as) != 2 || s.Refused(KindEventLogConflict) != 2 {
			t.Errorf("after dock-a's changed read: %d alerts, counted %d", len(as), s.Refused(KindEventLogConflict))
		}
		// Within one batch, two first reads that disagree: the first in
		// the batch stands.
		b.clock.Advance(time.Minute)
		commit(t, s, events("dock-a", "e3", d2, ev(9, wire.EventButtonMark, "first")),
			events("dock-a2", "x3", d0, ev(9, wire.EventButtonMark, "second")))
		got, err = s.RecorderEvents(ctx, "REC-A", base.Add(9*time.Minute), base.Add(10*time.Minute))
		if err != nil || len(got) != 1 || got[0].Detail != "first" || !got[0].Disputed {
			t.Errorf("entry 9: %+v, %v", got, err)
		}
		// dock-a2's alert for that docking now names both entries.
		a, ok, err := s.AlertByKey(ctx, a.Key)
		if err != nil || !ok || len(alerts()) != 2 || s.Refused(KindEventLogConflict) != 3 {
			t.Fatalf("after the batch: %d alerts, counted %d, %v", len(alerts()), s.Refused(KindEventLogConflict), err)
		}
		if !strings.Contains(a.Title, "(entries: 2)") || !strings.Contains(a.Detail, "entry 3 read as fault") ||
			!strings.Contains(a.Detail, `entry 9 read as button-mark at `+base.Add(9*time.Minute).Format(time.RFC3339Nano)+` seq 1 "second"`) {
			t.Errorf("refreshed alert %+v", a)
		}
	})
}

// TestRecorderEventConflictsConcurrent: reads of one entry committed at
// once by two collectors are compared with each other: one stands, the
// other is kept aside, never both stored as first. Each batch holds reads
// of several recorders, two of them in both batches, listed in opposite
// orders: every recorder's log is locked, not only the batch's first.
func TestRecorderEventConflictsConcurrent(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		at := b.clock.Now().Add(-time.Hour)
		const rounds = 40
		batches := map[string][]string{"dock-x": {"REC-C", "REC-D", "REC-E"}, "dock-y": {"REC-F", "REC-E", "REC-D"}}
		for r := range rounds {
			errs := make(chan error, len(batches))
			for dock, serials := range batches {
				go func() {
					var batch []Incoming
					for _, serial := range serials {
						batch = append(batch, msg(t, dock, fmt.Sprintf("e%d-%s", r, serial), at, &wire.RecorderEvents{Serial: serial,
							DockedAt: at, Events: []wire.RecorderEvent{{Index: uint64(r + 1), Time: at, Kind: wire.EventButtonMark, Detail: dock}}}))
					}
					_, err := s.Commit(context.Background(), batch)
					errs <- err
				}()
			}
			for range batches {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
		}
		for serial, kept := range map[string]int{"REC-C": 0, "REC-D": rounds, "REC-E": rounds, "REC-F": 0} {
			if n := b.count(t, s, `SELECT count(*) FROM recorder_events WHERE serial = ?`, serial); n != rounds {
				t.Errorf("%s: %d reads stand for %d entries", serial, n, rounds)
			}
			if n := b.count(t, s, `SELECT count(*) FROM recorder_event_conflicts WHERE serial = ?`, serial); n != kept {
				t.Errorf("%s: %d reads kept aside, want %d", serial, n, kept)
			}
		}
	})
}

// TestRecorderEventConflictBackfill: migration 0017 moves the stored
// reads that contradict their entry's first stored read aside, leaving
// the first; reads that agree stay.
func TestRecorderEventConflictBackfill(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		// As stored before the migration: entry 1 read by three dockings,
		// the second (received later, docked earlier) otherwise; entry 2
		// read twice alike.
		for _, r := range [][]any{
			{"REC-A", 1, "dock-a", 300, 10, "low-battery", 1, "", 1000},
			{"REC-A", 1, "dock-b", 100, 10, "fault", 1, "", 2000},
			{"REC-A", 1, "dock-a", 400, 10, "low-battery", 1, "", 3000},
			{"REC-A", 2, "dock-a", 300, 20, "power-off", 0, "", 1000},
			{"REC-A", 2, "dock-b", 100, 20, "power-off", 0, "", 2000},
		} {
			if _, err := s.db.ExecContext(ctx, s.d.q(`INSERT INTO recorder_events (serial, idx, dock, docked_ns, event_ns, kind,
				seq, detail, received_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), r...); err != nil {
				t.Fatal(err)
			}
		}
		src, err := migrationFS.ReadFile("migrations/0017_event_log_conflicts.sql")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, st := range statements(string(src)) {
			if strings.HasPrefix(st, "INSERT INTO recorder_event_conflicts") || strings.HasPrefix(st, "DELETE FROM recorder_events") {
				if _, err := s.db.ExecContext(ctx, st); err != nil {
					t.Fatalf("backfill: %v", err)
				}
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d backfill statements in migration 0017, want 2", n)
		}
		if n := b.count(t, s, `SELECT count(*) FROM recorder_events`); n != 4 {
			t.Errorf("%d reads stand, want 4", n)
		}
		if n := b.count(t, s, `SELECT count(*) FROM recorder_event_conflicts WHERE idx = 1 AND dock = 'dock-b' AND kind = 'fault'
			AND first_dock = 'dock-a' AND first_docked_ns = 300 AND received_ns = 2000`); n != 1 || b.count(t, s, `SELECT count(*) FROM recorder_event_conflicts`) != 1 {
			t.Errorf("kept aside: %d (of %d)", n, b.count(t, s, `SELECT count(*) FROM recorder_event_conflicts`))
		}
	})
}
