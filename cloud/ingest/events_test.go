package ingest_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// A dock's read of a recorder's event-log entry that contradicts the read
// another dock reported first is acknowledged, kept aside, counted, logged
// and alerted to the recorder's unit, naming both docks; the entry the
// analysis reads stays the first read. Reads that agree raise nothing.
func TestEventLogConflict(t *testing.T) {
	for _, sn := range []string{"sqlite", "postgres"} {
		t.Run(sn, func(t *testing.T) {
			t.Parallel()
			d := sqliteDB(t)
			if sn == "postgres" {
				d = pgDB(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			logs := &logBuf{}
			st, err := store.Open(ctx, d.dsn, &store.Opts{Schema: d.schema, MaxConns: 4,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.EnrollUnit(ctx, store.Unit{ID: "unit-1", Custodian: "cust-1"}, "admin-1"); err != nil {
				t.Fatal(err)
			}
			docks := newDocks(t, st, "te"+randHex(4), 2)
			a, b := docks[0], docks[1]
			const serial = "R-EV"
			if err := st.EnrollRecorder(ctx, store.Recorder{Serial: serial, Unit: "unit-1",
				PublicKey: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)}, "admin-1"); err != nil {
				t.Fatal(err)
			}
			e := env(t, "embedded", st)
			startCollector(t, e, st, "g-"+randHex(4), dockFilters(docks), nil)
			for _, dk := range docks {
				dk.connect(t, e)
			}
			// Dockings just past (a health report dated ahead of the
			// collector's clock, or long before enrolment, is refused).
			now := time.Now().UTC().Truncate(time.Millisecond)
			base := now.Add(-8 * time.Hour)
			ev := func(i uint64, kind, detail string) wire.RecorderEvent {
				return wire.RecorderEvent{Index: i, Time: base.Add(time.Duration(i) * time.Minute), Kind: kind, Seq: 4, Detail: detail}
			}
			// b's docking is the earlier one: it does not make b's read first.
			dockedA, dockedB := now, now.Add(-time.Minute)
			docking := func(dk *simDock, id string, at time.Time, evs ...wire.RecorderEvent) []outMsg {
				h := &wire.DeviceHealth{Serial: serial, Firmware: "2.1", Slot: 1, DockedAt: at, DockClock: at,
					Battery: wire.Battery{Percent: 80, HealthPct: 90}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 50}}
				return []outMsg{dk.encode(t, "health-"+id, wire.DeviceTopic(dk.id, serial), wire.TypeDeviceHealth, h),
					dk.encode(t, "events-"+id, wire.EventsTopic(dk.id), wire.TypeRecorderEvents,
						&wire.RecorderEvents{Serial: serial, DockedAt: at, Events: evs})}
			}
			send := func(dk *simDock, msgs []outMsg) {
				t.Helper()
				if err := dk.send(ctx, msgs, 10, 5*time.Second, nil); err != nil {
					t.Fatal(err)
				}
			}
			raw := d.raw(t)
			conflicts := func() int {
				t.Helper()
				var n int
				if err := raw.QueryRow("SELECT count(*) FROM recorder_event_conflicts").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			alerts := func() []store.Alert {
				t.Helper()
				as, err := st.Alerts(ctx, store.AlertFilter{Kind: store.KindEventLogConflict})
				if err != nil {
					t.Fatal(err)
				}
				return as
			}
			first := []wire.RecorderEvent{ev(1, wire.EventRecordStart, ""), ev(2, wire.EventLowBattery, "3400 mV"),
				ev(3, wire.EventRecordStop, "low battery")}
			send(a, docking(a, "1", dockedA, first...))
			// b reads the same log: the normal case, silent.
			send(b, docking(b, "1", dockedB, first...))
			if n, as, c := conflicts(), alerts(), st.Refused(store.KindEventLogConflict); n != 0 || len(as) != 0 || c != 0 {
				t.Fatalf("agreeing reads: %d kept aside, alerts %+v, counted %d", n, as, c)
			}
			// b reports entries 2 and 3 otherwise: a fault, not a low battery.
			send(b, []outMsg{b.encode(t, "events-2", wire.EventsTopic(b.id), wire.TypeRecorderEvents, &wire.RecorderEvents{
				Serial: serial, DockedAt: dockedB, Events: []wire.RecorderEvent{ev(2, wire.EventFault, "tampered"),
					ev(3, wire.EventRecordStop, "fault"), ev(4, wire.EventPowerOff, "")}})})
			if n := conflicts(); n != 2 {
				t.Errorf("%d reads kept aside, want 2", n)
			}
			if c := st.Refused(store.KindEventLogConflict); c != 2 {
				t.Errorf("counted %d, want 2", c)
			}
			as := alerts()
			if len(as) != 1 {
				t.Fatalf("alerts %+v", as)
			}
			if al := as[0]; al.Severity != "warning" || al.Unit != "unit-1" || al.Serial != serial || al.Dock != b.id ||
				!strings.Contains(al.Title, "dock "+b.id+"'s read contradicts the first read by dock "+a.id) ||
				!strings.Contains(al.Detail, "entry 2 read as fault") || !strings.Contains(al.Detail, "entry 3 read as record-stop") {
				t.Errorf("alert %+v", al)
			}
			if l := logs.String(); strings.Count(l, "event-log entry read differently") != 2 || !strings.Contains(l, "first_dock="+a.id) {
				t.Errorf("store log:\n%s", l)
			}
			got, err := st.RecorderEvents(ctx, serial, time.Time{}, time.Time{})
			if err != nil || len(got) != 4 {
				t.Fatalf("events %+v, %v", got, err)
			}
			for i, w := range first {
				if g := got[i]; g.Kind != w.Kind || g.Detail != w.Detail || g.Disputed != (i > 0) {
					t.Errorf("entry %d = %+v, want %+v (disputed %v)", w.Index, g, w, i > 0)
				}
			}
			// The same contradicting read again under a new id (a dock that
			// lost its outbox): kept once, counted and alerted once.
			send(b, []outMsg{b.encode(t, "events-3", wire.EventsTopic(b.id), wire.TypeRecorderEvents, &wire.RecorderEvents{
				Serial: serial, DockedAt: dockedB, Events: []wire.RecorderEvent{ev(2, wire.EventFault, "tampered")}})})
			if n, as, c := conflicts(), alerts(), st.Refused(store.KindEventLogConflict); n != 2 || len(as) != 1 || c != 2 {
				t.Errorf("repeated read: %d kept aside, %d alerts, counted %d", n, len(as), c)
			}
		})
	}
}
