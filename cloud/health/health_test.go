package health

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

func kinds(fs []Finding) []string {
	var k []string
	for _, f := range fs {
		k = append(k, f.Kind)
	}
	slices.Sort(k)
	return k
}

func TestDevice(t *testing.T) {
	good := wire.DeviceHealth{Serial: "R1", Firmware: "2.4.0",
		Battery: wire.Battery{HealthPct: 95, TemperatureC: 30},
		Storage: wire.Storage{TotalBytes: 64 << 30, FreeBytes: 60 << 30, HealthPct: 99}, ClockOffsetMs: 300}
	th := DefaultThresholds()
	th.MinFirmware = "2.3.9"
	if fs := Device(good, th); len(fs) != 0 {
		t.Fatalf("healthy device: %v", fs)
	}
	bad := good
	bad.Battery = wire.Battery{HealthPct: 71, TemperatureC: 52}
	bad.Storage = wire.Storage{TotalBytes: 64 << 30, FreeBytes: 1 << 30, HealthPct: 60, BadBlocks: 3}
	bad.ClockOffsetMs = -9000
	bad.Firmware = "2.3.10" // numeric compare: 2.3.10 > 2.3.9, so no firmware finding
	want := []string{KindBatteryHot, KindBatteryWorn, KindClockDrift, KindStorageErrors, KindStorageLow, KindStorageWorn}
	if got := kinds(Device(bad, th)); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	bad.Firmware = "2.3.1"
	if got := kinds(Device(bad, th)); !slices.Contains(got, KindFirmwareOld) {
		t.Fatalf("old firmware not found: %v", got)
	}
}

// The dock's measurement judges the battery beside the recorder's claim,
// one finding whichever rule fires: worn by measure, far below its claim,
// or worn by its own claim.
func TestDeviceMeasuredCapacity(t *testing.T) {
	th := DefaultThresholds()
	at := time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC)
	h := func(claim, measured int) wire.DeviceHealth {
		d := wire.DeviceHealth{Serial: "R1", Battery: wire.Battery{HealthPct: claim},
			Storage: wire.Storage{TotalBytes: 1, FreeBytes: 1, HealthPct: 100}}
		if measured > 0 {
			d.Battery.Measured = &wire.MeasuredCapacity{MilliAmpHours: measured * 30, DesignMilliAmpHours: 3000, Pct: measured, FromPct: 20, ToPct: 100, At: at}
		}
		return d
	}
	for _, tc := range []struct {
		name            string
		claim, measured int
		want            string // "" no finding
	}{
		{"claim and measure agree, healthy", 95, 93, ""},
		{"worn by measure though it claims health", 95, 61, "measured at the dock at 61%"},
		{"above the floor but far below its claim", 98, 82, "far below its claim"},
		{"within the claim gap", 95, 85, ""},
		{"no measurement: its own claim", 71, 0, "state of health 71%"},
		// Either says worn: a measurement is not let to hide a claim (a
		// mis-set charger efficiency would read high).
		{"a pessimistic claim stands beside a healthy measure", 70, 90, "state of health 70%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := Device(h(tc.claim, tc.measured), th)
			if tc.want == "" {
				if len(fs) != 0 {
					t.Fatalf("findings %v", fs)
				}
				return
			}
			if len(fs) != 1 || fs[0].Kind != KindBatteryWorn || !strings.Contains(fs[0].Detail, tc.want) {
				t.Fatalf("findings %+v, want one %s saying %q", fs, KindBatteryWorn, tc.want)
			}
		})
	}
	off := th
	off.MaxClaimGapPct = -1
	if fs := Device(h(98, 82), off); len(fs) != 0 {
		t.Fatalf("claim gap disabled, still %v", fs)
	}
}

func TestDock(t *testing.T) {
	now := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
	th := DefaultThresholds()
	ok := wire.DockState{State: wire.DockOnline, BufferBytes: 10, BufferCapacity: 100}
	if fs := Dock("d1", ok, now.Add(-time.Minute), now, 5*time.Minute, th); len(fs) != 0 {
		t.Fatalf("healthy dock: %v", fs)
	}
	bad := wire.DockState{State: wire.DockOnline, BufferBytes: 95, BufferCapacity: 100, BacklogSegments: 4, OldestBacklog: now.Add(-13 * time.Hour)}
	want := []string{KindBacklogOld, KindBufferFilling, KindDockOffline}
	if got := kinds(Dock("d1", bad, now.Add(-10*time.Minute), now, 5*time.Minute, th)); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"2.10", "2.9", 1}, {"v1.0.0", "1.0", 0}, {"1.0.0", "1.0.1", -1}, {"1.0-rc1", "1.0-rc2", -1}} {
		if got := CompareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
