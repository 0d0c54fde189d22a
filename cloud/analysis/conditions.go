package analysis

import (
	"context"
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/health"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// Kinds of the custodian's alerts beyond health's.
const (
	KindSlotFault         = "slot-fault"          // a dock slot's charge or link fault (rule 7)
	KindAuditBreak        = "audit-chain-break"   // a dock's audit hash chain is broken (rule 3)
	KindReasonCheckFailed = "reason-check-failed" // the spoken-reason check keeps failing (rule 2)
)

// custodianFaults are the slot faults (wire's words) a custodian acts on:
// charging cut or not taking, and a recorder that does not answer (hung:
// power-cycle it). The footage faults (hash, hole) are the timeline's.
var custodianFaults = map[string]string{
	wire.SlotFaultNotCharging: "电池无法充电 battery does not take charge",
	wire.SlotFaultOverCurrent: "过流断电 charging cut: over-current",
	wire.SlotFaultOverTemp:    "过温断电 charging cut: over-temperature",
	wire.SlotFaultLink:        "记录仪无响应 recorder not answering (hung: power-cycle it)",
}

// healthTitles are the bilingual titles of health findings.
var healthTitles = map[string]string{
	health.KindBatteryWorn:   "电池老化 Battery worn",
	health.KindBatteryHot:    "电池过热 Battery hot",
	health.KindStorageErrors: "存储错误 Storage errors",
	health.KindStorageLow:    "存储空间不足 Storage nearly full",
	health.KindStorageWorn:   "存储老化 Storage worn",
	health.KindClockDrift:    "时钟偏差 Clock drift",
	health.KindFirmwareOld:   "固件过旧 Firmware below the fleet minimum",
	health.KindDockOffline:   "充电仓离线 Dock offline",
	health.KindBufferFilling: "充电仓缓存将满 Dock buffer filling",
	health.KindBacklogOld:    "充电仓上传积压 Dock upload backlog old",
	KindSlotFault:            "充电仓仓位故障 Dock slot fault",
	KindAuditBreak:           "审计链断裂 Audit chain broken",
	KindReasonCheckFailed:    "口头说明核查失败 Spoken-reason check keeps failing",
}

// standingKey returns the key of the first of live (the open, then
// acknowledged, alerts about subject, a recorder's serial or a dock, each
// newest first) of kind: one alert per device (or dock) and condition,
// updated in place however often it is observed again (a power-cycled
// recorder docks again). Without one, the key names the first observation
// of this occurrence, since.
func standingKey(live []store.Alert, kind, subject string, since time.Time) string {
	for _, a := range live {
		if a.Kind == kind {
			return a.Key
		}
	}
	return fmt.Sprintf("%s/%s/%s", kind, subject, since.UTC().Format(time.RFC3339))
}

// liveOfKind reads the open, then acknowledged, alerts of kind, each
// newest first.
func (e *Engine) liveOfKind(ctx context.Context, kind string) ([]store.Alert, error) {
	var out []store.Alert
	for _, state := range []string{store.AlertOpen, store.AlertAcknowledged} {
		as, err := e.st.Alerts(ctx, store.AlertFilter{State: state, Kind: kind, Limit: 100000})
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
	}
	return out, nil
}

// deviceHealth returns the health findings of the recorder's last docking
// as alerts, one per condition, standing while the condition holds (their
// keys go into standing); live are the recorder's open and acknowledged
// alerts. The clock is judged at every snapshot in hist from from on,
// though: the dock sets the clock when it measures it, so a second
// session of the same docking (a link that dropped) measures almost
// nothing, and the drift it corrected would vanish with it; the latest
// drift found is the alert's.
func (e *Engine) deviceHealth(d store.Device, hist []store.HealthRecord, from time.Time, live []store.Alert,
	standing map[string]bool) []alert.Alert {
	mk := func(f health.Finding, rec store.HealthRecord) alert.Alert {
		at := rec.Health.DockedAt
		return alert.Alert{Key: standingKey(live, f.Kind, d.Serial, at), Kind: f.Kind, Severity: f.Severity, Unit: d.Unit,
			Officer: d.Officer, Serial: d.Serial, Dock: rec.Dock, Title: healthTitles[f.Kind] + ": " + d.Serial, Detail: f.Detail, At: at}
	}
	var out []alert.Alert
	var drift *store.HealthRecord
	var driftF health.Finding
	if d.Health.Serial != "" {
		last := store.HealthRecord{Dock: d.LastDock, Health: d.Health}
		last.Health.DockedAt = d.LastDockedAt
		for _, f := range health.Device(d.Health, e.cfg.Health) {
			if f.Kind == health.KindClockDrift {
				drift, driftF = &last, f
				continue
			}
			a := mk(f, last)
			standing[a.Key] = true
			out = append(out, a)
		}
	}
	for i := len(hist) - 1; i >= 0 && drift == nil; i-- {
		rec := hist[i]
		if rec.Health.DockedAt.Before(from) {
			continue
		}
		for _, f := range health.Device(rec.Health, e.cfg.Health) {
			if f.Kind == health.KindClockDrift {
				drift, driftF = &rec, f
			}
		}
	}
	if drift != nil {
		out = append(out, mk(driftF, *drift))
	}
	return out
}
