package slot

import (
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/led"
)

// Pattern is what the officer and the custodian see for each state. The
// officer needs three answers at a glance: "working on it" (blue), "safe:
// the agency has the footage, take it or leave it" (green), "something is
// wrong" (red, amber): and then which wrong, because what to do next
// differs. Each fault class has its own pattern (FaultClasses).
func Pattern(state, fault string) led.Pattern {
	switch state {
	case wire.SlotEmpty:
		return led.Off()
	case wire.SlotPresent, wire.SlotIdentified, wire.SlotInventoried:
		return led.Blink(led.Blue, 500*time.Millisecond)
	case wire.SlotCopying, wire.SlotBuffered:
		return led.Pulse(led.Blue, 1500*time.Millisecond)
	case wire.SlotUploaded, wire.SlotReleased:
		return led.Pulse(led.Green, 2*time.Second)
	case wire.SlotReady:
		return led.Solid(led.Green)
	case wire.SlotFault:
		return ClassOf(fault).Pattern
	}
	return led.Blink(led.Amber, 250*time.Millisecond)
}

// Fault reasons in wire.SlotState.Fault.
const (
	FaultLink          = wire.SlotFaultLink        // the recorder does not answer DockLink
	FaultAuth          = "auth"                    // unknown recorder or failed authentication: refused
	FaultHashMismatch  = "hash-mismatch"           // a copied segment does not match the recorder's hash
	FaultSequenceHole  = "sequence-hole"           // the recorder's sequence numbers have a hole: nothing released
	FaultBufferFull    = "buffer-full"             // the dock's buffer is full: footage stays on the recorder
	FaultBuffer        = "buffer"                  // the buffer failed
	FaultOverCurrent   = wire.SlotFaultOverCurrent // charge cut
	FaultOverTemp      = wire.SlotFaultOverTemp    // charge cut
	FaultNotCharging   = wire.SlotFaultNotCharging // battery does not take charge
	FaultReleaseRefuse = "release-refused"         // the recorder refused a release
	FaultOffline       = "receipt-timeout"         // no receipt yet: footage stays on the recorder
)

// FaultClass is one kind of trouble at a slot: its LED pattern, what the
// officer standing at the dock should do, and what the custodian should
// do next (dockctl prints it beside the fault). Faults of one class call
// for the same action; classes never share a pattern.
type FaultClass struct {
	Name      string      // evidence, link, auth, charge, waiting, other
	Pattern   led.Pattern // the slot's LED
	Faults    []string    // the fault reasons of the class
	Officer   string      // 给警员: what to do at the dock, in Chinese
	OfficerEn string      // the same in English
	Custodian string      // dockctl's next step for the custodian
}

// FaultClasses is the table the officers' card (agent/slot/LEDS.md) shows;
// TestLEDCardMatchesCode keeps the two the same.
var FaultClasses = []FaultClass{
	{Name: "evidence", Pattern: led.Blink(led.Red, 500*time.Millisecond),
		Faults:    []string{FaultHashMismatch, FaultSequenceHole, FaultBuffer, FaultReleaseRefuse},
		Officer:   "录像数据异常：请将记录仪留在坞站，通知装备管理员。记录仪上的录像不会被删除。",
		OfficerEn: "Footage problem: leave the recorder in the dock and tell the custodian. Nothing on it will be deleted.",
		Custodian: "keep the recorder docked; read `dockctl logs` for the segment named in the fault; a hash mismatch or hole is evidence: do not wipe or reflash the recorder, escalate to the supervisor"},
	{Name: "link", Pattern: led.Alternate(led.Red, led.Blue, time.Second),
		Faults:    []string{FaultLink},
		Officer:   "连接失败：请取出记录仪，重新插入；仍闪烁请换一个插槽。",
		OfficerEn: "No connection: take the recorder out and put it back; if it still blinks, use another slot.",
		Custodian: "reseat the recorder; if it persists in every slot, `dockctl power-cycle SLOT`; if one slot fails for every recorder, run `dockctl selftest` on that slot's board file"},
	{Name: "auth", Pattern: led.Solid(led.Red),
		Faults:    []string{FaultAuth},
		Officer:   "记录仪未登记或认证失败：请将记录仪交给装备管理员，不要反复插拔。",
		OfficerEn: "Recorder not enrolled here or failed authentication: hand it to the custodian; do not keep re-docking it.",
		Custodian: "check that the recorder is enrolled for this dock's unit (`collector enroll list --unit U`) and that the dock's enrolled_devices file is current (`collector enroll export`); a recorder whose key changed may have been tampered with"},
	{Name: "charge", Pattern: led.Blink(led.Amber, time.Second),
		Faults:    []string{FaultOverCurrent, FaultOverTemp, FaultNotCharging},
		Officer:   "充电故障：已停止充电。请通知装备管理员检查电池。",
		OfficerEn: "Charging fault: charging stopped. Tell the custodian to check the battery.",
		Custodian: "over-current or over-temperature: take the recorder out of service and inspect the battery; not charging: try another slot, then replace the battery; the fleet view lists the battery's health"},
	{Name: "waiting", Pattern: led.Alternate(led.Red, led.Amber, time.Second),
		Faults:    []string{FaultBufferFull, FaultOffline},
		Officer:   "坞站暂时无法接收：录像安全保存在记录仪上，可以取走，下次插入时继续上传。",
		OfficerEn: "The dock cannot take footage now: it is safe on the recorder; you may take it, upload resumes at the next docking.",
		Custodian: "buffer full: check the uplink (`dockctl status`: mqtt, backlog, oldest); receipt timeout: the collector is unreachable or slow; nothing is lost, footage stays on the recorders until receipted"},
}

// otherClass is a fault reason this table does not know (a newer dockd's).
var otherClass = FaultClass{Name: "other", Pattern: led.Blink(led.Red, 250*time.Millisecond),
	Officer:   "坞站故障：请将记录仪留在坞站，通知装备管理员。",
	OfficerEn: "Dock fault: leave the recorder in the dock and tell the custodian.",
	Custodian: "read `dockctl logs`; the fault is not one this dockctl knows"}

// ClassOf returns the class of a fault reason.
func ClassOf(fault string) FaultClass {
	for _, c := range FaultClasses {
		for _, f := range c.Faults {
			if f == fault {
				return c
			}
		}
	}
	return otherClass
}
