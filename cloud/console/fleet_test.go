package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// dockMeasured reports serial's health from dock-1 with the battery the
// recorder claims and, if mah > 0, the capacity the dock measured.
func dockMeasured(t *testing.T, w *world, serial string, claimPct, mah, design int) {
	t.Helper()
	at := time.Date(2026, 11, 30, 22, 14, 0, 0, time.UTC)
	b := wire.Battery{Percent: 100, HealthPct: claimPct, Cycles: 300}
	if mah > 0 {
		b.Measured = &wire.MeasuredCapacity{MilliAmpHours: mah, DesignMilliAmpHours: design, Pct: mah * 100 / design,
			FromPct: 12, ToPct: 100, At: at.Add(3 * time.Hour)}
	}
	e, err := wire.NewEnvelope("hm-"+serial, "dock-1", at, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: serial, Firmware: "2.4.1",
		DockedAt: at, DockClock: at, DeviceClock: at, ClockSet: true, Battery: b,
		Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := wire.DecodeBody(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.Commit(context.Background(), []store.Incoming{{Env: e, Body: body}}); err != nil {
		t.Fatal(err)
	}
}

// TestFleetMeasuredBattery: the custodian sees the capacity the dock
// measured beside what the recorder claims, in the page and the CSV, and
// the pull list ranks a battery by the worse of the two: a recorder that
// claims 95% but took 60% of its design at the dock is pulled before one
// that honestly claims 70%.
func TestFleetMeasuredBattery(t *testing.T) {
	w := newWorld(t)
	dockMeasured(t, w, "R-CLAIMS-70", 70, 0, 0)
	dockMeasured(t, w, "R-MEASURED-60", 95, 1800, 3000)
	dockMeasured(t, w, "R-HEALTHY", 98, 2940, 3000)

	code, page := w.do(t, "GET", "/fleet", w.tokens["keeper"], nil)
	if code != 200 {
		t.Fatalf("fleet: %d %s", code, page)
	}
	i60, i70 := strings.Index(page, `data-serial="R-MEASURED-60"`), strings.Index(page, `data-serial="R-CLAIMS-70"`)
	if i60 < 0 || i70 < 0 || i60 > i70 {
		t.Errorf("pull list order: measured-60 at %d, claims-70 at %d; want the measured 60%% battery first", i60, i70)
	}
	for _, want := range []string{"实测容量", "60% · 1800/3000 mAh", "98% · 2940/3000 mAh"} {
		if !strings.Contains(page, want) {
			t.Errorf("fleet page lacks %q", want)
		}
	}
	row70 := page[i70:]
	row70 = row70[:strings.Index(row70, "</tr>")]
	if !strings.Contains(row70, `<td class="measured">—</td>`) {
		t.Errorf("a recorder never measured shows a measurement: %s", row70)
	}

	code, csv := w.do(t, "GET", "/fleet/recorders.csv", w.tokens["keeper"], nil)
	if code != 200 {
		t.Fatalf("csv: %d %s", code, csv)
	}
	lines := strings.Split(strings.TrimPrefix(csv, "\uFEFF"), "\n")
	if !strings.HasPrefix(lines[0], "serial,unit,officer,model,firmware,battery_health_pct,battery_measured_mah,battery_measured_pct,battery_measured_at,") {
		t.Fatalf("csv header: %s", lines[0])
	}
	byserial := map[string]string{}
	for _, l := range lines[1:] {
		if sn, _, ok := strings.Cut(l, ","); ok {
			byserial[sn] = l
		}
	}
	if l := byserial["R-MEASURED-60"]; !strings.Contains(l, ",95,1800,60,2026-12-01T09:14:00+08:00,300,") {
		t.Errorf("csv row of the measured recorder: %s", l)
	}
	if l := byserial["R-CLAIMS-70"]; !strings.Contains(l, ",70,,,,300,") {
		t.Errorf("csv row of the recorder never measured: %s", l)
	}
}
