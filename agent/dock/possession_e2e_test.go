package dock_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// TestAuthenticatedPolicyEndToEnd: under the collector's "authenticated"
// recorder policy a real dock handles the recorders it proves holding
// (DockLink §6.5). A recorder enrolled to another unit, which the dock
// authenticates, is handled: its authenticated record carries a proof
// that verifies with its enrolled key for this dock, and its health report
// is kept. A recorder the collector enrolled with another key than the
// one the dock checks (the dock's word against the registry's) is not:
// the proof is refused, counted and alerted, and so is its report.
func TestAuthenticatedPolicyEndToEnd(t *testing.T) {
	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	var recs []*recsim.Recorder
	for i, serial := range []string{"PB-" + randHex(3), "PW-" + randHex(3)} {
		rec, err := recsim.Generate(uint64(40+i), &recsim.GenOpts{Segments: 1, MinSize: 16 << 10, MaxSize: 32 << 10, Start: time.Now().Add(-3 * time.Hour)},
			&recsim.Config{Serial: serial, Battery: docklink.Battery{MilliVolts: 4200, Percent: 100, HealthPercent: 95, Cycles: 20,
				TempDeciC: 250, Charge: docklink.ChargeFull}})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	borrowed, rekeyed := recs[0], recs[1]
	otherKey, _, _ := ed25519.GenerateKey(nil)
	w, err := testworld.Start(context.Background(), testworld.Config{Dir: t.TempDir(), Log: log, Unit: "unit-pa", Recorders: recs,
		Collector: func(cc *collector.Config) {
			cc.Enrolment.Recorders = string(store.RecordersAuthenticated)
			cc.Units = []collector.UnitEnrolment{{ID: "unit-pa"}, {ID: "unit-pb"}}
			cc.Recorders = []collector.RecorderEnrolment{
				{Serial: borrowed.Serial(), Unit: "unit-pb", PublicKey: borrowed.PublicKeyBase64()},
				{Serial: rekeyed.Serial(), Unit: "unit-pa", PublicKey: base64.StdEncoding.EncodeToString(otherKey)},
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := w.DockAll(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, dockID := w.Col.Store(), w.DockCfg.Dock
	// authRecord returns the dock's stored authenticated record for serial.
	authRecord := func(serial string) (wire.AuditRecord, bool) {
		rs, err := st.AuditRecords(ctx, dockID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Record.Action == wire.AuditAuthenticated && r.Record.Serial == serial && r.Status == store.AuditVerified {
				return r.Record, true
			}
		}
		return wire.AuditRecord{}, false
	}
	health := func(serial string) int {
		hs, err := st.DeviceHealth(ctx, serial, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return len(hs)
	}

	waitFor(t, "the borrowed recorder's health report", func() bool { return health(borrowed.Serial()) > 0 })
	rec, ok := authRecord(borrowed.Serial())
	if !ok {
		t.Fatal("no verified authenticated record for the borrowed recorder")
	}
	if err := rec.VerifyProof(dockID, borrowed.PublicKey()); err != nil {
		t.Fatalf("the dock's proof: %v", err)
	}
	if a, err := st.RecorderAccess(ctx, dockID, borrowed.Serial()); err != nil || !a.Allowed {
		t.Fatalf("borrowed recorder: %+v %v", a, err)
	}

	waitFor(t, "the re-keyed recorder's proof refused", func() bool {
		as, err := st.Alerts(ctx, store.AlertFilter{Kind: store.KindRecorderRefused, Serial: rekeyed.Serial()})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.Dock == dockID && strings.Contains(a.Title, "proof") {
				return true
			}
		}
		return false
	})
	rec, ok = authRecord(rekeyed.Serial())
	if !ok {
		t.Fatal("no authenticated record for the re-keyed recorder: the chain lost it")
	}
	if err := rec.VerifyProof(dockID, otherKey); !errors.Is(err, wire.ErrBadProof) {
		t.Fatalf("re-keyed recorder's proof against the registry's key: %v", err)
	}
	waitFor(t, "the re-keyed recorder's report refused", func() bool {
		as, err := st.Alerts(ctx, store.AlertFilter{Kind: store.KindRecorderRefused, Serial: rekeyed.Serial()})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.Dock == dockID && strings.Contains(a.Title, "reported on") {
				return true
			}
		}
		return false
	})
	if n := health(rekeyed.Serial()); n != 0 {
		t.Fatalf("the re-keyed recorder's health reports were kept: %d", n)
	}
	if a, err := st.RecorderAccess(ctx, dockID, rekeyed.Serial()); err != nil || a.Allowed {
		t.Fatalf("re-keyed recorder: %+v %v", a, err)
	}
	if n := st.Refused(store.KindRecorderRefused); n < 2 {
		t.Fatalf("%d refusals counted, want the proof and the report at least", n)
	}
}
