package main

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/cloud/wire"
)

// TestRehearsalSimInsertRemove is a custodian rehearsing on the simulated
// board: dockd starts with empty slots, the recorder is docked and taken
// through the local API (dockctl sim insert|remove), its footage flows to
// the collector, and the metrics port chosen for port 0 is in the log.
func TestRehearsalSimInsertRemove(t *testing.T) {
	r := crashNewRig(t, crashFootage{Recorders: 1, Segments: 3, MinSize: 64 << 10, MaxSize: 128 << 10})
	// The board as shipped for rehearsals: presence switches pulled up and
	// active low, so every slot starts empty.
	crashWrite(t, r.board, strings.ReplaceAll(r.w.SimBoardYAML(), "active: high", "active: low"))
	b, err := os.ReadFile(r.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	crashWrite(t, r.cfgPath, string(b)+"metrics_addr: 127.0.0.1:0\n")
	r.logLevel = "info"
	r.startDockd()

	st, err := r.status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Slots) != 1 || st.Slots[0].Name != "A" || st.Slots[0].State != wire.SlotEmpty {
		t.Fatalf("slots at start %+v, want one empty slot named A", st.Slots)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.api.Simulate(ctx, "Z", true, "custodian"); err == nil || !strings.Contains(err.Error(), "no such slot") {
		t.Fatalf("insert into slot Z: %v, want no such slot", err)
	}
	if err := r.api.Simulate(ctx, "a", true, "custodian"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	st = r.waitSettled(2 * time.Minute)
	if s := st.Slots[0]; s.Serial == "" || s.Released != 3 {
		t.Fatalf("after insert: %+v, want the recorder's 3 segments released", s)
	}
	if c := r.check(); !c.Zero() || c.Objects != 3 || c.Released != 3 {
		t.Fatalf("after the docking: %+v, want 3 objects stored, 3 released, nothing lost", c)
	}

	if err := r.api.Simulate(ctx, "A", false, "custodian"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	waitSlot(t, r, func(s localapi.Slot) bool { return s.State == wire.SlotEmpty && s.Serial == "" })

	// dockd printed the metrics address it got, and it answers.
	logs, _ := os.ReadFile(r.logPath)
	m := regexp.MustCompile(`msg="metrics listening" addr=(http://127\.0\.0\.1:\d+/metrics)`).FindSubmatch(logs)
	if m == nil {
		t.Fatalf("no metrics address in dockd's log:\n%s", logs)
	}
	resp, err := http.Get(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", m[1], resp.Status)
	}
	r.stopDockd()
}

func waitSlot(t *testing.T, r *crashRig, ok func(localapi.Slot) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := r.status()
		if err == nil && len(st.Slots) > 0 && ok(st.Slots[0]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not as wanted within a minute: %+v (%v)", st.Slots, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
