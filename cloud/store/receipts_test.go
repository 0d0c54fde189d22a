package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

func TestReceipts(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		seg := manifest("R1", 4, t0, 0)
		commit(t, s, msg(t, "dock-1", "m1", t0, seg))
		r := wire.Receipt{ObjectID: "sha256-" + seg.SHA256, Device: "R1", Seq: 4, SHA256: seg.SHA256, Size: seg.Size,
			StoredAt: t0.Add(90*time.Minute + 7)}
		r.Sign("collector-1", key)

		if _, ok, err := s.Receipt(ctx, "R1", 4); err != nil || ok {
			t.Fatalf("Receipt before recording: ok=%v err=%v", ok, err)
		}
		for range 3 { // idempotent
			if err := s.RecordReceipt(ctx, r); err != nil {
				t.Fatalf("RecordReceipt: %v", err)
			}
		}
		// An equivalent receipt (re-signed later) is accepted and the first kept.
		later := r
		later.StoredAt = r.StoredAt.Add(time.Hour)
		later.Sign("collector-2", key)
		if err := s.RecordReceipt(ctx, later); err != nil {
			t.Fatalf("equivalent receipt: %v", err)
		}
		got, ok, err := s.Receipt(ctx, "R1", 4)
		if err != nil || !ok || got != r {
			t.Fatalf("Receipt = %+v %v %v, want %+v", got, ok, err, r)
		}
		if err := got.Verify(pub, "R1", 4, seg.SHA256, seg.Size); err != nil {
			t.Errorf("stored receipt no longer verifies: %v", err)
		}
		// Another hash for the same segment is a conflict, and changes nothing.
		bad := r
		bad.SHA256, bad.ObjectID = hash64("other"), "sha256-other"
		if err := s.RecordReceipt(ctx, bad); !errors.Is(err, ErrConflict) {
			t.Errorf("conflicting receipt: %v, want ErrConflict", err)
		}
		if got, _, _ := s.Receipt(ctx, "R1", 4); got != r {
			t.Errorf("conflict changed the receipt: %+v", got)
		}
		// The segment shows the recorded receipt.
		segs, err := s.Segments(ctx, "R1", time.Time{}, time.Time{})
		if err != nil || len(segs) != 1 || segs[0].Receipt == nil || *segs[0].Receipt != r || !segs[0].ReceivedAt.Equal(r.StoredAt) {
			t.Errorf("segment receipt = %+v, %v", segs, err)
		}
		if n := b.count(t, s, `SELECT count(*) FROM receipts`); n != 1 {
			t.Errorf("receipts rows %d, want 1", n)
		}
		for _, bad := range []wire.Receipt{
			{},
			{ObjectID: "o", Device: "../x", SHA256: seg.SHA256, StoredAt: t0, Signature: "s"},
			{ObjectID: "o", Device: "R1", SHA256: "short", StoredAt: t0, Signature: "s"},
			{ObjectID: "o", Device: "R1", SHA256: seg.SHA256, Signature: "s"},
			{ObjectID: "o", Device: "R1", SHA256: seg.SHA256, StoredAt: t0},
			{ObjectID: "o", Device: "R1", Seq: 1 << 63, SHA256: seg.SHA256, StoredAt: t0, Signature: "s"},
		} {
			if err := s.RecordReceipt(ctx, bad); !errors.Is(err, ErrArgument) {
				t.Errorf("RecordReceipt(%+v) = %v, want ErrArgument", bad, err)
			}
		}
	})
}

func TestDockEnrolment(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		const tok = "s3cret-token-0123456789"
		if ok, err := s.DockEnrolled(ctx, "dock-1"); err != nil || ok {
			t.Fatalf("unknown dock enrolled=%v err=%v", ok, err)
		}
		// A dock seen before enrolment is known but not enrolled.
		commit(t, s, msg(t, "dock-1", "m", t0, &wire.DockState{State: wire.DockOnline}))
		if ok, _ := s.DockEnrolled(ctx, "dock-1"); ok {
			t.Error("a dock only seen counts as enrolled")
		}
		if ok, _ := s.CheckDockToken(ctx, "dock-1", ""); ok {
			t.Error("empty token accepted for an unenrolled dock")
		}
		if err := s.EnrollDock(ctx, "dock-1", "unit-3", tok); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.DockEnrolled(ctx, "dock-1"); err != nil || !ok {
			t.Fatalf("enrolled=%v err=%v", ok, err)
		}
		for _, c := range []struct {
			dock, token string
			want        bool
		}{{"dock-1", tok, true}, {"dock-1", tok + "x", false}, {"dock-1", "", false}, {"dock-2", tok, false},
			{"dock-1' OR '1'='1", tok, false}} {
			if ok, err := s.CheckDockToken(ctx, c.dock, c.token); err != nil || ok != c.want {
				t.Errorf("CheckDockToken(%q, %q) = %v, %v; want %v", c.dock, c.token, ok, err, c.want)
			}
		}
		if n := b.count(t, s, `SELECT count(*) FROM docks WHERE token_sha256 = ?`, tok); n != 0 {
			t.Error("the token is stored in clear")
		}
		// Re-enrolment rotates the token; the state reported before stays.
		if err := s.EnrollDock(ctx, "dock-1", "unit-4", tok+"-new"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.CheckDockToken(ctx, "dock-1", tok); ok {
			t.Error("old token still valid after rotation")
		}
		docks, err := s.Docks(ctx)
		if err != nil || len(docks) != 1 || docks[0].Unit != "unit-4" || !docks[0].Enrolled || docks[0].State.State != wire.DockOnline {
			t.Errorf("docks = %+v, %v", docks, err)
		}
		for _, bad := range [][3]string{{"", "u", tok}, {"a/b", "u", tok}, {"d", "u/../x", tok}, {"d", "u", "short"}} {
			if err := s.EnrollDock(ctx, bad[0], bad[1], bad[2]); !errors.Is(err, ErrArgument) {
				t.Errorf("EnrollDock(%q) = %v, want ErrArgument", bad, err)
			}
		}
	})
}

// A last will is dated when the dock connected, before the online reports
// that followed; it must still mark the dock offline when it arrives, and
// the online state sent on reconnecting must win over it.
func TestLastWillMarksDockOffline(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		connect := b.clock.Now()
		b.clock.Advance(time.Second)
		commit(t, s, msg(t, "dock-w", "online-1", connect.Add(time.Second), &wire.DockState{State: wire.DockOnline, Slots: 4}))
		b.clock.Advance(time.Hour) // the connection dies an hour later
		commit(t, s, msg(t, "dock-w", "offline-will-1", connect, &wire.DockState{State: wire.DockOffline}))
		state := func() string {
			ds, err := s.Docks(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.ID == "dock-w" {
					return d.State.State
				}
			}
			t.Fatal("dock-w not stored")
			return ""
		}
		if got := state(); got != wire.DockOffline {
			t.Fatalf("after the will: state %q, want offline", got)
		}
		// A stale online report redelivered from the outbox does not undo it.
		commit(t, s, msg(t, "dock-w", "online-2", connect.Add(2*time.Second), &wire.DockState{State: wire.DockOnline}))
		if got := state(); got != wire.DockOffline {
			t.Fatalf("after a stale online report: state %q, want offline", got)
		}
		b.clock.Advance(time.Minute)
		commit(t, s, msg(t, "dock-w", "online-3", b.clock.Now(), &wire.DockState{State: wire.DockOnline}))
		if got := state(); got != wire.DockOnline {
			t.Fatalf("after reconnecting: state %q, want online", got)
		}
	})
}

func TestFootageAccessLog(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		obj := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
		for _, a := range []FootageAccess{
			{Viewer: "chief-li", Role: "supervisor", ObjectID: obj, Action: "view", Granted: true, Remote: "10.0.0.7:5123"},
			{Viewer: "aux-wang", Role: "auxiliary", ObjectID: obj, Action: "view", Granted: false, Reason: "auxiliary staff may not view footage"},
			{Viewer: "chief-li", Role: "supervisor", ObjectID: "other", Action: "view", Granted: true},
		} {
			if err := s.RecordAccess(ctx, a); err != nil {
				t.Fatal(err)
			}
			b.clock.Advance(time.Second)
		}
		got, err := s.FootageAccesses(ctx, obj, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Viewer != "chief-li" || !got[0].Granted || got[1].Granted || got[1].Reason == "" || got[0].Remote != "10.0.0.7:5123" {
			t.Fatalf("accesses %+v", got)
		}
		if all, _ := s.FootageAccesses(ctx, "", 0); len(all) != 3 {
			t.Fatalf("all accesses: %d", len(all))
		}
		if err := s.RecordAccess(ctx, FootageAccess{Viewer: "x\x00", ObjectID: obj}); err == nil {
			t.Fatal("NUL in a viewer name accepted")
		}
	})
}

// ReceiptsOf gives each receipt of a footage the dock whose upload it was
// issued for (the first receipt's, kept) and the footage's unit
// (footageUnit): the recorder's enrolled unit, else that dock's (unknown
// if the registry does not hold it, whoever reported the segment), else,
// for a receipt naming no dock (as before migration 0016), the unit of
// the dock that reported the segment; unknown if none did.
func TestReceiptsOfUnit(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		if err := s.EnrollUnit(ctx, Unit{ID: "unit-1"}, "test"); err != nil {
			t.Fatal(err)
		}
		for d, u := range map[string]string{"dock-1": "unit-1", "dock-2": "unit-2", "dock-0": ""} {
			if err := s.EnrollDock(ctx, d, u, d+"-token-0123456789"); err != nil {
				t.Fatal(err)
			}
		}
		pub, _, _ := ed25519.GenerateKey(nil)
		if err := s.EnrollRecorder(ctx, Recorder{Serial: "ENR", Unit: "unit-1", PublicKey: pub}, "test"); err != nil {
			t.Fatal(err)
		}
		sum := hash64("footage")
		rec := func(device string, seq uint64) wire.Receipt {
			r := wire.Receipt{ObjectID: sum, Device: device, Seq: seq, SHA256: sum, Size: 10, StoredAt: t0}
			r.Sign("k", key)
			return r
		}
		for _, c := range []struct {
			device string
			seq    uint64
			dock   string
		}{
			{"ENR", 1, "dock-2"}, // uploaded by another unit's dock: the enrolment decides
			{"FREE", 1, "dock-2"},
			{"FREE", 1, "dock-1"}, // again from another dock: the first receipt's dock stays
			{"FREE", 2, "dock-0"}, // a dock of no unit: unit ""
			{"FREE", 3, "ghost"},  // a dock the registry does not hold
			{"OLD", 1, ""},        // no dock named
		} {
			if err := s.RecordReceiptFrom(ctx, rec(c.device, c.seq), c.dock); err != nil {
				t.Fatalf("RecordReceiptFrom(%s/%d, %q): %v", c.device, c.seq, c.dock, err)
			}
		}
		if err := s.RecordReceipt(ctx, rec("OLD", 2)); err != nil {
			t.Fatal(err)
		}
		// OLD/1 and FREE/3 reported by dock-1 (of unit-1).
		commit(t, s, msg(t, "dock-1", "m1", t0, manifest("OLD", 1, t0, 0)), msg(t, "dock-1", "m2", t0, manifest("FREE", 3, t0, 0)))
		hs, err := s.ReceiptsOf(ctx, sum, 0)
		if err != nil {
			t.Fatal(err)
		}
		type got struct {
			dev   string
			seq   uint64
			dock  string
			unit  string
			known bool
		}
		want := []got{{"ENR", 1, "dock-2", "unit-1", true}, {"FREE", 1, "dock-2", "unit-2", true}, {"FREE", 2, "dock-0", "", true},
			{"FREE", 3, "ghost", "", false}, {"OLD", 1, "", "unit-1", true}, {"OLD", 2, "", "", false}}
		if len(hs) != len(want) {
			t.Fatalf("ReceiptsOf = %+v, want %d receipts", hs, len(want))
		}
		for i, h := range hs {
			if g := (got{h.Device, h.Seq, h.Dock, h.Unit, h.UnitKnown}); g != want[i] || h.Receipt != rec(h.Device, h.Seq) {
				t.Errorf("receipt %d = %+v, want %+v", i, g, want[i])
			}
		}
		if n := b.count(t, s, `SELECT count(*) FROM receipts WHERE dock IS NULL`); n != 2 {
			t.Errorf("%d receipts with a NULL dock, want 2", n)
		}
		if err := s.RecordReceiptFrom(ctx, rec("FREE", 9), "../x"); !errors.Is(err, ErrArgument) {
			t.Errorf("bad dock: %v, want ErrArgument", err)
		}
	})
}
