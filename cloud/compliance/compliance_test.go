package compliance

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

func TestParseWeek(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "2026-W48", want: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{in: "2026-W01", want: time.Date(2025, 12, 29, 0, 0, 0, 0, time.UTC)},
		{in: "2020-W53", want: time.Date(2020, 12, 28, 0, 0, 0, 0, time.UTC)},
		{in: "2025-W53", bad: true}, {in: "2026-48", bad: true}, {in: "x-W1", bad: true}, {in: "2026-W0", bad: true},
	} {
		got, err := ParseWeek(tc.in)
		if tc.bad != (err != nil) || !tc.bad && !got.Equal(tc.want) {
			t.Errorf("ParseWeek(%q) = %s, %v", tc.in, got, err)
		}
	}
}

// TestReport: two officers of unit-3 in week 2026-W48: their recordings
// (auto-split segments are one recording), interruptions explained or not,
// late footage, a hole and how fast alerts were acknowledged; footage of
// the week before and another unit's alerts are not counted.
func TestReport(t *testing.T) {
	ctx := context.Background()
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	now := mon.Add(8 * 24 * time.Hour)
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"), &store.Opts{Logger: slog.New(slog.DiscardHandler),
		Clock: clockwork.NewFakeClockAt(now)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnrollDock(ctx, "dock-1", "unit-3", "token-0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	n := 0
	commit := func(typ string, body wire.Body) {
		n++
		e, err := wire.NewEnvelope(fmt.Sprintf("m%d", n), "dock-1", now.Add(-time.Hour), typ, body)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Commit(ctx, []store.Incoming{{Env: e, Body: body}}); err != nil {
			t.Fatal(err)
		}
	}
	seg := func(serial, officer string, seq uint64, start time.Time, cause string) {
		commit(wire.TypeSegmentManifest, &wire.SegmentManifest{Serial: serial, Seq: seq, Start: start, End: start.Add(10 * time.Minute),
			Size: 1, SHA256: fmt.Sprintf("%064x", seq), StopCause: cause, Officer: officer, ClockSyncedAt: now, State: wire.SegBuffered})
	}
	for _, r := range []struct{ serial, officer string }{{"R1", "o-1"}, {"R2", "o-2"}} {
		commit(wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: r.serial, Firmware: "2", Officer: r.officer, DockedAt: now.Add(-time.Hour),
			DockClock: now.Add(-time.Hour), Battery: wire.Battery{HealthPct: 90}, Storage: wire.Storage{TotalBytes: 1, FreeBytes: 1}})
	}
	day := mon.Add(24*time.Hour + 8*time.Hour)
	seg("R1", "o-1", 1, day, wire.StopAutoSplit)
	seg("R1", "o-1", 2, day.Add(10*time.Minute), wire.StopUser) // one recording with 1
	seg("R1", "o-1", 3, day.Add(2*time.Hour), wire.StopUser)
	seg("R1", "o-1", 4, mon.Add(-24*time.Hour), wire.StopUser) // the week before
	seg("R2", "o-2", 1, day, wire.StopUser)
	alert := func(key, kind, unit, officer string, at time.Time, ackAfter time.Duration) {
		if _, err := st.UpsertAlert(ctx, store.Alert{Key: key, Kind: kind, Severity: "warning", Unit: unit, Officer: officer,
			Title: kind, At: at, OpenedAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if ackAfter > 0 {
			a, _, _ := st.AlertByKey(ctx, key)
			st.AckAlert(ctx, a.ID, "chief", "explained")
			// The store stamps acknowledgements with its clock: the fake
			// clock's now, ackAfter is what the test expects below.
		}
	}
	alert("a1", "interruption-explained", "unit-3", "o-1", day, 0)
	alert("a2", "interruption-unexplained", "unit-3", "o-1", day.Add(time.Hour), time.Hour)
	alert("a3", "late-upload", "unit-3", "o-1", day.Add(3*time.Hour), 0)
	alert("a4", "sequence-hole", "unit-3", "o-2", day, 0)
	alert("a5", "interruption-unexplained", "unit-9", "o-2", day, 0)                 // another unit
	alert("a6", "interruption-unexplained", "unit-3", "o-2", mon.Add(-time.Hour), 0) // the week before
	rows, err := Report(ctx, st, rules.DefaultPolicy(), "unit-3", "2026-W48")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("rows %+v", rows)
	}
	o1, o2, total := rows[0], rows[1], rows[2]
	if o1.Officer != "o-1" || o1.Recordings != 2 || o1.Segments != 3 || o1.Interruptions != 2 || o1.Explained != 1 ||
		o1.ExplainedRate != 0.5 || o1.Late != 1 || o1.LateRate != 1.0/3 || o1.Holes != 0 || o1.Acknowledged != 1 {
		t.Errorf("o-1: %+v", o1)
	}
	ackHours := now.Sub(day.Add(2 * time.Hour)).Hours() // acknowledged at the store's now, opened an hour after the event
	if d := o1.MeanAckHours - ackHours; d < -0.01 || d > 0.01 {
		t.Errorf("o-1 mean ack %.2f h, want %.2f", o1.MeanAckHours, ackHours)
	}
	if o2.Officer != "o-2" || o2.Recordings != 1 || o2.Interruptions != 0 || o2.ExplainedRate != 1 || o2.Holes != 1 {
		t.Errorf("o-2: %+v", o2)
	}
	if !total.Total || total.Recordings != 3 || total.Segments != 4 || total.Interruptions != 2 || total.Holes != 1 || total.Late != 1 {
		t.Errorf("total: %+v", total)
	}
}
