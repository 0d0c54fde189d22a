package slot

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/berthdock/berth/cloud/wire"
)

// allFaults is every fault reason a slot reports.
var allFaults = []string{FaultLink, FaultAuth, FaultHashMismatch, FaultSequenceHole, FaultBufferFull, FaultBuffer,
	FaultOverCurrent, FaultOverTemp, FaultNotCharging, FaultReleaseRefuse, FaultOffline}

// Each fault belongs to exactly one class, and no two things an officer can
// see at a slot (a state's pattern, a class's pattern) look the same.
func TestFaultClassesDistinct(t *testing.T) {
	seen := map[string]int{}
	for _, c := range FaultClasses {
		for _, f := range c.Faults {
			seen[f]++
		}
		if c.Officer == "" || c.OfficerEn == "" || c.Custodian == "" {
			t.Errorf("class %s lacks an instruction", c.Name)
		}
	}
	for _, f := range allFaults {
		if seen[f] != 1 {
			t.Errorf("fault %q is in %d classes, want 1", f, seen[f])
		}
		if ClassOf(f).Name == "other" {
			t.Errorf("fault %q has no class", f)
		}
	}
	if len(seen) != len(allFaults) {
		t.Errorf("classes name %d faults, the slot reports %d", len(seen), len(allFaults))
	}
	if ClassOf("something-new").Name != "other" {
		t.Error("an unknown fault is not class other")
	}
	looks := map[string]string{}
	see := func(what, pattern string) {
		if prev, ok := looks[pattern]; ok {
			t.Errorf("%s and %s both show %s", what, prev, pattern)
		}
		looks[pattern] = what
	}
	for _, st := range []string{wire.SlotEmpty, wire.SlotPresent, wire.SlotCopying, wire.SlotUploaded, wire.SlotReady} {
		see("state "+st, Pattern(st, "").String())
	}
	for _, c := range append(FaultClasses, otherClass) {
		see("fault class "+c.Name, c.Pattern.String())
	}
	see("checkout offer", TakePattern.String())
	for _, f := range allFaults {
		if got, want := Pattern(wire.SlotFault, f), ClassOf(f).Pattern; got != want {
			t.Errorf("fault %s shows %s, its class %s", f, got, want)
		}
	}
}

// The officers' card printed for each dock is the code's table.
func TestLEDCardMatchesCode(t *testing.T) {
	const path = "../../deploy/pi/LEDS.md"
	want := LEDCard()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		if os.Getenv("BERTH_UPDATE_LEDS") != "" {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("%s differs from the code's table (BERTH_UPDATE_LEDS=1 go test -run TestLEDCardMatchesCode ./agent/slot/ rewrites it); want:\n%s", path, want)
	}
}

// LEDCard renders the officers' card.
func LEDCard() string {
	var b strings.Builder
	b.WriteString("# 坞站指示灯 / What the slot's light means\n\n")
	b.WriteString("Generated from agent/slot/patterns.go (TestLEDCardMatchesCode keeps it so). Print it beside each dock.\n\n")
	b.WriteString("| 指示灯 LED | 含义 Meaning |\n|---|---|\n")
	for _, r := range []struct{ st, zh, en string }{
		{wire.SlotPresent, "已插入，正在识别", "docked, identifying"},
		{wire.SlotCopying, "正在复制录像", "copying footage"},
		{wire.SlotUploaded, "已上传，正在释放空间", "uploaded, freeing space"},
		{wire.SlotReady, "完成：可以取走", "done: take it"},
	} {
		fmt.Fprintf(&b, "| %s | %s / %s |\n", Pattern(r.st, ""), r.zh, r.en)
	}
	fmt.Fprintf(&b, "| %s | %s / %s |\n", TakePattern, "刷卡后：请取走这台记录仪（已分配给您）", "after a card tap: take this recorder (it is now assigned to you)")
	b.WriteString("\n## 故障 / Faults\n\n| 指示灯 LED | 类别 Class | 警员请 / Officer | 故障 Faults (dockctl) | 装备管理员 / Custodian next |\n|---|---|---|---|---|\n")
	for _, c := range append(FaultClasses, otherClass) {
		faults := strings.Join(c.Faults, ", ")
		if faults == "" {
			faults = "(any other)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s<br>%s | %s | %s |\n", c.Pattern, c.Name, c.Officer, c.OfficerEn, faults, c.Custodian)
	}
	return b.String()
}
