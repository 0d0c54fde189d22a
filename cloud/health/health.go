// Package health turns the snapshots docks report into findings a custodian
// acts on (rule 7: battery capacity and storage space are checked and kept in
// working order; rule 8: recorder clocks must be right): a battery that has
// lost capacity or runs hot, storage with errors or nearly full, a clock
// that drifted, firmware below the fleet minimum, and docks that went
// offline, whose buffer is filling or whose upload backlog is getting old.
//
// Like package timeline it is pure: snapshots and thresholds in, findings
// out.
package health

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// Kinds of health finding.
const (
	KindBatteryWorn   = "battery-worn"
	KindBatteryHot    = "battery-hot"
	KindStorageErrors = "storage-errors"
	KindStorageLow    = "storage-low"
	KindStorageWorn   = "storage-worn"
	KindClockDrift    = "clock-drift"
	KindFirmwareOld   = "firmware-old"
	KindDockOffline   = "dock-offline"
	KindBufferFilling = "buffer-filling"
	KindBacklogOld    = "backlog-old"
)

// Thresholds of the fleet's health policy.
type Thresholds struct {
	MinBatteryHealthPct int // state of health below this: replace (default 80)
	// MaxClaimGapPct: a battery the dock measured this many points of
	// design capacity below what the recorder claims is a finding even
	// above MinBatteryHealthPct (default 15; negative disables it).
	MaxClaimGapPct      int
	MaxBatteryTempC     float64       // default 45 °C
	MaxStorageErrors    int64         // read+write errors and bad blocks above this (default 0)
	MinStorageHealthPct int           // default 80
	MinFreePct          int           // after offload, free space below this % (default 10)
	MaxClockDrift       time.Duration // |offset| at docking above this (default 2 s)
	MinFirmware         string        // dotted version; empty disables the check
	MaxBufferPct        int           // dock buffer above this % full (default 80)
	MaxBacklogAge       time.Duration // oldest un-uploaded segment older than this (default 12 h)
}

// DefaultThresholds returns the defaults named in the design.
func DefaultThresholds() Thresholds {
	return Thresholds{MinBatteryHealthPct: 80, MaxClaimGapPct: 15, MaxBatteryTempC: 45, MaxStorageErrors: 0, MinStorageHealthPct: 80,
		MinFreePct: 10, MaxClockDrift: 2 * time.Second, MaxBufferPct: 80, MaxBacklogAge: 12 * time.Hour}
}

// Finding is one health problem.
type Finding struct {
	Kind     string
	Severity string // "warning" or "critical"
	Subject  string // recorder serial or dock id
	Detail   string
}

// Key identifies a finding for deduplication.
func (f Finding) Key() string { return f.Kind + "/" + f.Subject }

// Device returns the findings of one docking snapshot.
func Device(h wire.DeviceHealth, t Thresholds) []Finding {
	var out []Finding
	add := func(kind, sev, format string, a ...any) {
		out = append(out, Finding{Kind: kind, Severity: sev, Subject: h.Serial, Detail: fmt.Sprintf(format, a...)})
	}
	switch m := h.Battery.Measured; {
	case m != nil && m.Pct > 0 && m.Pct < t.MinBatteryHealthPct:
		add(KindBatteryWorn, "warning", "battery measured at the dock at %d%% of design (%d of %d mAh, charged %d%%→%d%% on %s; < %d%%); the recorder claims %d%%, after %d cycles",
			m.Pct, m.MilliAmpHours, m.DesignMilliAmpHours, m.FromPct, m.ToPct, m.At.UTC().Format("2006-01-02"), t.MinBatteryHealthPct, h.Battery.HealthPct, h.Battery.Cycles)
	case m != nil && m.Pct > 0 && t.MaxClaimGapPct > 0 && h.Battery.HealthPct-m.Pct >= t.MaxClaimGapPct:
		add(KindBatteryWorn, "warning", "battery far below its claim: the recorder claims %d%% of design, the dock measured %d%% (%d of %d mAh, charged %d%%→%d%% on %s)",
			h.Battery.HealthPct, m.Pct, m.MilliAmpHours, m.DesignMilliAmpHours, m.FromPct, m.ToPct, m.At.UTC().Format("2006-01-02"))
	case h.Battery.HealthPct < t.MinBatteryHealthPct:
		add(KindBatteryWorn, "warning", "battery state of health %d%% (< %d%%) after %d cycles", h.Battery.HealthPct, t.MinBatteryHealthPct, h.Battery.Cycles)
	}
	if h.Battery.TemperatureC > t.MaxBatteryTempC {
		add(KindBatteryHot, "critical", "battery at %.1f °C (> %.0f °C)", h.Battery.TemperatureC, t.MaxBatteryTempC)
	}
	if errs := h.Storage.ReadErrors + h.Storage.WriteErrors + h.Storage.BadBlocks; errs > t.MaxStorageErrors {
		add(KindStorageErrors, "warning", "storage errors: %d read, %d write, %d bad blocks", h.Storage.ReadErrors, h.Storage.WriteErrors, h.Storage.BadBlocks)
	}
	if h.Storage.HealthPct < t.MinStorageHealthPct {
		add(KindStorageWorn, "warning", "storage health %d%% (< %d%%)", h.Storage.HealthPct, t.MinStorageHealthPct)
	}
	if h.Storage.TotalBytes > 0 && h.Storage.FreeBytes*100/h.Storage.TotalBytes < int64(t.MinFreePct) {
		add(KindStorageLow, "warning", "%d%% free of %d MB", h.Storage.FreeBytes*100/h.Storage.TotalBytes, h.Storage.TotalBytes>>20)
	}
	if d := time.Duration(h.ClockOffsetMs) * time.Millisecond; d > t.MaxClockDrift || -d > t.MaxClockDrift {
		add(KindClockDrift, "warning", "clock off by %s at docking (> %s); the dock set it", d, t.MaxClockDrift)
	}
	if t.MinFirmware != "" && CompareVersions(h.Firmware, t.MinFirmware) < 0 {
		add(KindFirmwareOld, "warning", "firmware %q below the fleet minimum %q", h.Firmware, t.MinFirmware)
	}
	return out
}

// Dock returns the findings of a dock's last state, seen at lastSeen, at
// time now; offlineAfter is how long silence is tolerated.
func Dock(dock string, s wire.DockState, lastSeen, now time.Time, offlineAfter time.Duration, t Thresholds) []Finding {
	var out []Finding
	add := func(kind, sev, format string, a ...any) {
		out = append(out, Finding{Kind: kind, Severity: sev, Subject: dock, Detail: fmt.Sprintf(format, a...)})
	}
	if s.State == wire.DockOffline || now.Sub(lastSeen) > offlineAfter {
		add(KindDockOffline, "critical", "dock offline since %s", lastSeen.UTC().Format(time.RFC3339))
	}
	if s.BufferCapacity > 0 && s.BufferBytes*100/s.BufferCapacity > int64(t.MaxBufferPct) {
		add(KindBufferFilling, "warning", "buffer %d%% full (%d of %d MB)", s.BufferBytes*100/s.BufferCapacity, s.BufferBytes>>20, s.BufferCapacity>>20)
	}
	if !s.OldestBacklog.IsZero() && now.Sub(s.OldestBacklog) > t.MaxBacklogAge {
		add(KindBacklogOld, "critical", "%d segments waiting for upload, oldest since %s", s.BacklogSegments, s.OldestBacklog.UTC().Format(time.RFC3339))
	}
	return out
}

// CompareVersions compares dotted numeric versions ("2.10.1" > "2.9");
// a leading "v" is ignored and non-numeric parts compare as text.
func CompareVersions(a, b string) int {
	pa := strings.Split(strings.TrimPrefix(a, "v"), ".")
	pb := strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		x, y := "0", "0"
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		nx, ex := strconv.Atoi(x)
		ny, ey := strconv.Atoi(y)
		switch {
		case ex == nil && ey == nil && nx != ny:
			if nx < ny {
				return -1
			}
			return 1
		case (ex != nil || ey != nil) && x != y:
			return strings.Compare(x, y)
		}
	}
	return 0
}
