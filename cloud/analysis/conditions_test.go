package analysis

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/health"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// TestOneAlertPerCondition: a worn battery is one alert however often the
// recorder docks (a power-cycle docks it again), updated in place and
// closed when a docking no longer shows it; a slot's charge fault is a
// custodian alert standing while the slot is faulted; a break of a dock's
// audit chain is a critical alert. Each is delivered once, naming its rule.
func TestOneAlertPerCondition(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(30 * time.Hour)
	w := newInvWorld(t, now, nil)
	dockWith := func(healthPct int) {
		*w.now = w.now.Add(time.Minute)
		commit(t, w.st, "dock-1", &w.n, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "R1", Firmware: "2.4.1", Officer: "o-7",
			DockedAt: *w.now, DockClock: *w.now, DeviceClock: *w.now, ClockSet: true,
			Battery: wire.Battery{Percent: 50, HealthPct: healthPct, Cycles: 900}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	}
	worn := func() []store.Alert {
		as, err := w.st.Alerts(ctx, store.AlertFilter{Kind: health.KindBatteryWorn})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	dockWith(60)
	if got := w.pass(); len(got) != 1 || !strings.HasPrefix(got[0], health.KindBatteryWorn+"/R1/") {
		t.Fatalf("first docking delivered %v", got)
	}
	if w.got[0].Rule == nil || w.got[0].Rule.Number != 7 || !strings.Contains(w.got[0].Title, "电池老化") {
		t.Errorf("battery alert %+v", w.got[0])
	}
	key := w.got[0].Key
	dockWith(58) // power-cycled: docked again, still worn
	if got := w.pass(); len(got) != 0 {
		t.Fatalf("power-cycle delivered %v", got)
	}
	if as := worn(); len(as) != 1 || as[0].Key != key || !strings.Contains(as[0].Detail, "58%") {
		t.Fatalf("after the power-cycle: %+v, want the one alert updated in place", as)
	}
	dockWith(95) // battery replaced
	w.pass()
	if as := worn(); len(as) != 1 || as[0].State != store.AlertClosed {
		t.Fatalf("after the battery was replaced: %+v, want the alert closed", as)
	}

	// A slot cut charging for over-current, then recovered.
	slot := func(state, fault string) {
		*w.now = w.now.Add(time.Minute)
		commit(t, w.st, "dock-1", &w.n, wire.TypeSlotState, &wire.SlotState{Slot: 2, State: state, Serial: "R1", Fault: fault, Detail: "3.1 A"})
	}
	slot(wire.SlotFault, wire.SlotFaultOverCurrent)
	got := w.pass()
	if len(got) != 1 || got[0] != KindSlotFault+"/dock-1/2/over-current" || w.got[0].Unit != "unit-3" || w.got[0].Rule.Number != 7 {
		t.Fatalf("slot fault delivered %v %+v", got, w.got)
	}
	if got := w.pass(); len(got) != 0 {
		t.Fatalf("slot fault again: %v", got)
	}
	slot(wire.SlotReady, "")
	w.pass()
	if a, _, _ := w.st.AlertByKey(ctx, KindSlotFault+"/dock-1/2/over-current"); a.State != store.AlertClosed {
		t.Errorf("slot fault after recovery: %+v", a)
	}

	// An audit record whose hash does not match its content.
	rec := wire.AuditRecord{Index: 1, Time: *w.now, Action: wire.AuditDocked, Slot: 2, Serial: "R1", Detail: "docked"}
	if err := rec.Seal("dock-1", nil); err != nil {
		t.Fatal(err)
	}
	rec.Detail = "altered"
	commit(t, w.st, "dock-1", &w.n, wire.TypeAuditRecord, &rec)
	got = w.pass()
	if len(got) != 1 || !strings.HasPrefix(got[0], KindAuditBreak+"/dock-1/") || w.got[0].Severity != alert.SeverityCritical ||
		w.got[0].Rule == nil || w.got[0].Rule.Number != 3 {
		t.Fatalf("audit break delivered %v %+v", got, w.got)
	}
	if got := w.pass(); len(got) != 0 {
		t.Fatalf("audit break again: %v", got)
	}
}

// TestEveryKindCitesARule: every alert kind the collector raises names a
// rule of DESIGN.md with its articles, and has a bilingual title.
func TestEveryKindCitesARule(t *testing.T) {
	kinds := []string{KindUnexplained, KindExplained, KindUnchecked, KindTailLost, KindSlotFault, KindAuditBreak, KindReasonCheckFailed,
		health.KindBatteryWorn, health.KindBatteryHot, health.KindStorageErrors, health.KindStorageLow, health.KindStorageWorn,
		health.KindClockDrift, health.KindFirmwareOld, health.KindDockOffline, health.KindBufferFilling, health.KindBacklogOld,
		store.KindRecorderRefused, store.KindReceiptConflict, store.KindEchoedReceipt, store.KindEvidenceCorrupt, store.KindReportTime,
		store.KindEventLogConflict}
	for k := range severity {
		kinds = append(kinds, k)
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(kinds))) {
		r := alert.RuleOf(k)
		if r == nil || r.Number < 1 || r.ZH == "" || r.EN == "" || !strings.Contains(r.Articles, "第") {
			t.Errorf("%s cites %+v", k, r)
		}
		if _, ok := severity[k]; ok {
			if title := titles[k]; title == "" || !hasHan(title) {
				t.Errorf("%s title %q is not bilingual", k, title)
			}
		}
		if title, ok := healthTitles[k]; ok && !hasHan(title) {
			t.Errorf("%s title %q is not bilingual", k, title)
		}
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

// failingCheck is a reason checker whose every check fails, counting them.
type failingCheck struct{ calls *int }

func (f failingCheck) Check(context.Context, io.ReaderAt, int64, string, time.Duration, time.Duration) (Verdict, error) {
	*f.calls++
	return Verdict{}, errors.New("decoder crashed")
}

// TestReasonCheckBacksOff: a check that keeps failing is retried with
// exponential backoff (1, 2, 4, 8, 16 min after each failure), not at
// every pass, and after 5 failures raises its own alert, once.
func TestReasonCheckBacksOff(t *testing.T) {
	calls := 0
	now := t0.Add(30 * time.Hour)
	w := newInvWorld(t, now, nil)
	w.e = New(Config{Clock: stepClock{clockwork.NewRealClock(), w.now}, Escalate: -1}, w.st, w.clip, failingCheck{&calls},
		[]Deliverer{deliverFunc(func(a alert.Alert) { w.got = append(w.got, a) })}, slog.New(slog.DiscardHandler))
	w.plan(t0.Add(10*time.Hour), 2, map[uint64]string{1: wire.StopLowBattery}, map[uint64]time.Duration{1: 3 * time.Minute})
	w.dock(2, 1, 2)
	w.arrive(1)
	w.arrive(2)
	var callsAt []int
	var failedAt []int
	for m := range 32 {
		*w.now = now.Add(time.Duration(m) * time.Minute)
		before := calls
		for _, k := range w.pass() {
			if strings.HasPrefix(k, KindReasonCheckFailed) {
				failedAt = append(failedAt, m)
			}
		}
		if calls > before {
			callsAt = append(callsAt, m)
		}
	}
	if want := []int{0, 1, 3, 7, 15, 31}; !slices.Equal(callsAt, want) {
		t.Errorf("checks ran at minutes %v, want %v", callsAt, want)
	}
	if !slices.Equal(failedAt, []int{15}) {
		t.Errorf("reason-check-failed delivered at minutes %v, want once at 15", failedAt)
	}
	a, ok, err := w.st.AlertByKey(context.Background(), KindUnchecked+"/R1/2")
	if err != nil || !ok || !strings.Contains(a.Detail, "failed 6 times") {
		t.Errorf("unchecked alert %+v (%v)", a, err)
	}
}
