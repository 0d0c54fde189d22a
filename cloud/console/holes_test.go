package console

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// A supervisor of the recorder's unit releases it around its hole: the
// decision is recorded with who and why and the release-hole command goes
// to the dock that last docked it; nobody else may, and a recorder with
// no hole has nothing to release around.
func TestReleaseHolesAPI(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 30, 22, 14, 0, 0, time.UTC)
	for i, sn := range []string{"R1", "R5"} {
		e, err := wire.NewEnvelope("h"+sn, "dock-1", at, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: sn, Firmware: "2.4.1",
			Slot: i, DockedAt: at, DockClock: at, DeviceClock: at, ClockSet: true, Battery: wire.Battery{Percent: 50, HealthPct: 95},
			Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := wire.DecodeBody(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.st.Commit(ctx, []store.Incoming{{Env: e, Body: b}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.st.UpsertAlert(ctx, store.Alert{Key: "sequence-hole/R1/3-4", Kind: "sequence-hole", Severity: "critical", Unit: "u1",
		Serial: "R1", Seq: 3, Title: "hole", At: at}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, who, body string
		code                  int
		want                  string
	}{
		{"custodian may not", "/api/recorders/R1/holes/release", "keeper", `{"reason":"x"}`, 403, "only a supervisor"},
		{"reason required", "/api/recorders/R1/holes/release", "chief", `{"reason":" "}`, 400, "reason"},
		{"not their recorder", "/api/recorders/R9/holes/release", "chief", `{"reason":"x"}`, 404, "no recorder R9"},
		{"no hole", "/api/recorders/R5/holes/release", "chief", `{"reason":"x"}`, 404, "no standing sequence hole"},
		{"supervisor decides", "/api/recorders/R1/holes/release", "chief", `{"reason":"fell in the river; 3-4 unrecoverable"}`, 200,
			`"from": 3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, got := w.do(t, "POST", tc.path, w.tokens[tc.who], strings.NewReader(tc.body))
			if code != tc.code || !strings.Contains(got, tc.want) {
				t.Errorf("%s as %s: %d %s; want %d containing %q", tc.path, tc.who, code, got, tc.code, tc.want)
			}
		})
	}
	if got := strings.Join(w.sent.cmds, "; "); got != "dock-1 release-hole 0 by chief" {
		t.Errorf("commands sent: %q", got)
	}
	list, err := w.st.HoleReleases(ctx, "R1")
	if err != nil || len(list) != 1 || list[0].By != "chief" || list[0].From != 3 || list[0].To != 4 ||
		list[0].Reason != "fell in the river; 3-4 unrecoverable" {
		t.Errorf("decisions %+v (%v)", list, err)
	}
	// The decision was delivered: the courier sends nothing more until the
	// recorder docks elsewhere, then sends it there, once.
	if sent, err := DeliverHoleReleases(ctx, w.st, w.sent, slog.New(slog.DiscardHandler)); err != nil || len(sent) != 0 {
		t.Errorf("courier after the console's delivery sent %v (%v)", sent, err)
	}
	later := at.Add(2 * time.Hour)
	e, err := wire.NewEnvelope("hR1b", "dock-2", later, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "R1", Firmware: "2.4.1",
		Slot: 0, DockedAt: later, DockClock: later, DeviceClock: later, ClockSet: true, Battery: wire.Battery{Percent: 50, HealthPct: 95},
		Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.DecodeBody(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.Commit(ctx, []store.Incoming{{Env: e, Body: b}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := DeliverHoleReleases(ctx, w.st, w.sent, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(w.sent.cmds, "; "); got != "dock-1 release-hole 0 by chief; dock-2 release-hole 0 by chief" {
		t.Errorf("commands sent after the recorder moved to dock-2: %q", got)
	}
}
