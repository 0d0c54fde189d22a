package store

import (
	"context"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// The footage of a recorder enrolled nowhere is the unit's of the dock
// whose upload its receipt was issued for, whichever dock reports it
// (footageUnit): a dock of another unit that reports a receipted segment
// (it need know only its hash, size and times) is refused, counted and
// alerted to the footage's unit, and even a report that lands (before the
// receipt) moves no footage. Every reader agrees: FindFootage, Footage,
// LinkedFootage, AccessLog, ReceiptsOf, SegmentsOf. Only a receipt naming no dock
// (before migration 0016), or none yet, leaves it to the reporting dock.
func TestFootageUnitFollowsUploader(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s) // dock-a of u-a, dock-b of u-b
		if err := s.EnrollDockBy(ctx, "dock-a2", "u-a", "token-of-dock-a2-0123456789", "admin-1"); err != nil {
			t.Fatal(err)
		}
		now := b.clock.Now()
		receipt := func(m *wire.SegmentManifest) wire.Receipt {
			r := wire.Receipt{ObjectID: m.SHA256, Device: m.Serial, Seq: m.Seq, SHA256: m.SHA256, Size: m.Size, StoredAt: t0}
			r.Sign("k", key)
			return r
		}
		upload := func(m *wire.SegmentManifest, dock string) {
			t.Helper()
			r := receipt(m)
			if err := s.RecordReceiptFrom(ctx, r, dock); err != nil {
				t.Fatal(err)
			}
			m.Receipt = &r // echoed, as a dock does
		}
		report := func(dock, id string, at time.Time, m *wire.SegmentManifest) {
			t.Helper()
			if dup := commit(t, s, msg(t, dock, id, at, m)); dup[0] {
				t.Fatalf("%s/%s reported as a duplicate", dock, id)
			}
		}
		reporter := func(serial string, seq uint64) string {
			t.Helper()
			segs, err := s.Segments(ctx, serial, time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(segs, func(g Segment) bool { return g.Seq == seq })
			if i < 0 {
				t.Fatalf("no segment %s/%d", serial, seq)
			}
			return segs[i].Dock
		}
		unitOf := func(serial string, seq uint64) string {
			t.Helper()
			h, ok, err := s.Footage(ctx, serial, seq)
			if err != nil || !ok {
				t.Fatalf("Footage(%s, %d) = %v %v", serial, seq, ok, err)
			}
			return h.Unit
		}

		// FREE/1: uploaded and reported by dock-a; then dock-b (of u-b)
		// reports it, later, with the same claim and receipt.
		free1 := manifest("FREE", 1, t0, 0)
		upload(free1, "dock-a")
		report("dock-a", "a1", now.Add(-2*time.Minute), free1)
		refusedBefore := s.Refused(KindRecorderRefused)
		report("dock-b", "b1", now.Add(-time.Minute), free1)
		if got := reporter("FREE", 1); got != "dock-a" {
			t.Errorf("FREE/1 reported by %s after dock-b's report: want dock-a's report to stand", got)
		}
		if got := s.Refused(KindRecorderRefused) - refusedBefore; got != 1 {
			t.Errorf("%d refusals counted for dock-b's report, want 1", got)
		}
		as, err := s.Alerts(ctx, AlertFilter{Kind: KindRecorderRefused, Dock: "dock-b"})
		if err != nil || len(as) != 1 || as[0].Unit != "u-a" || as[0].Serial != "FREE" || as[0].Seq != 1 ||
			as[0].Key != "recorder-refused/report/dock-b/FREE/1" {
			t.Errorf("recorder-refused alerts of dock-b %+v %v: want one to u-a, the footage's unit, for FREE/1", as, err)
		}
		if got := unitOf("FREE", 1); got != "u-a" {
			t.Errorf("FREE/1 is footage of %q, want u-a", got)
		}

		// Another dock of the same unit may report it (a recorder moved
		// between a unit's docks): it becomes the reporter, the unit stays.
		report("dock-a2", "a2-1", now, free1)
		if got := reporter("FREE", 1); got != "dock-a2" {
			t.Errorf("FREE/1 reported by %s, want dock-a2 (same unit, newest)", got)
		}

		// FREE/2: dock-b reports it before dock-a's upload is receipted
		// (no receipt: nothing to refuse); the receipt then decides.
		free2 := manifest("FREE", 2, t0.Add(10*time.Minute), 0)
		report("dock-b", "b2", now, free2)
		if got := unitOf("FREE", 2); got != "u-b" {
			t.Errorf("FREE/2, reported by dock-b and not receipted, is footage of %q, want u-b", got)
		}
		upload(free2, "dock-a")
		if got := reporter("FREE", 2); got != "dock-b" {
			t.Fatalf("FREE/2 reported by %s, want dock-b", got)
		}
		if got := unitOf("FREE", 2); got != "u-a" {
			t.Errorf("FREE/2, uploaded by dock-a and reported by dock-b, is footage of %q, want u-a (the uploader's)", got)
		}

		// LEG/1: a receipt naming no dock (before migration 0016): the
		// reporting dock decides, the newest report's, as before.
		leg := manifest("LEG", 1, t0.Add(20*time.Minute), 0)
		if err := s.RecordReceipt(ctx, receipt(leg)); err != nil {
			t.Fatal(err)
		}
		report("dock-a", "a3", now.Add(-time.Minute), leg)
		report("dock-b", "b3", now, leg)
		if got := unitOf("LEG", 1); got != "u-b" {
			t.Errorf("LEG/1 (receipt of no dock) is footage of %q, want u-b (its newest reporter's)", got)
		}

		// An enrolled recorder's footage is its unit's, whoever uploaded.
		enr := manifest("REC-A", 1, t0.Add(30*time.Minute), 0)
		upload(enr, "dock-b")
		report("dock-a", "a4", now, enr)
		if got := unitOf("REC-A", 1); got != "u-a" {
			t.Errorf("REC-A/1 is footage of %q, want u-a (enrolment)", got)
		}

		// Every reader agrees.
		find := func(units ...string) []string {
			t.Helper()
			hs, err := s.FindFootage(ctx, CaseQuery{Units: units})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, h := range hs {
				out = append(out, h.Serial+"/"+itoa(h.Seq)+"@"+h.Unit)
			}
			slices.Sort(out)
			return out
		}
		if got, want := find("u-a"), []string{"FREE/1@u-a", "FREE/2@u-a", "REC-A/1@u-a"}; !slices.Equal(got, want) {
			t.Errorf("u-a's footage %v, want %v", got, want)
		}
		if got, want := find("u-b"), []string{"LEG/1@u-b"}; !slices.Equal(got, want) {
			t.Errorf("u-b's footage %v, want %v", got, want)
		}
		// The batch read the analysis engine judges on (and the console's
		// day view draws) gives each segment the same unit: an alert
		// about a segment goes where its footage goes.
		segs, err := s.SegmentsOf(ctx, []Span{{Serial: "FREE"}, {Serial: "LEG"}, {Serial: "REC-A"}})
		if err != nil {
			t.Fatal(err)
		}
		var units []string
		for _, sn := range []string{"FREE", "LEG", "REC-A"} {
			for _, g := range segs[sn] {
				units = append(units, g.Serial+"/"+itoa(g.Seq)+"@"+g.Unit)
			}
		}
		if want := []string{"FREE/1@u-a", "FREE/2@u-a", "LEG/1@u-b", "REC-A/1@u-a"}; !slices.Equal(units, want) {
			t.Errorf("SegmentsOf's units %v, want %v", units, want)
		}
		if hs, err := s.FindFootage(ctx, CaseQuery{Unit: "u-b", Recorder: "FREE"}); err != nil || len(hs) != 0 {
			t.Errorf("FREE footage of u-b: %+v %v", hs, err)
		}
		if err := s.LinkCase(ctx, CaseLink{Serial: "FREE", Seq: 2, Case: "case-7", By: Actor{Name: "wang", Role: "supervisor"}, Reason: "x"}); err != nil {
			t.Fatal(err)
		}
		if hs, err := s.LinkedFootage(ctx, "", 0, 0); err != nil || len(hs) != 1 || hs[0].Unit != "u-a" {
			t.Errorf("linked footage %+v %v: want FREE/2 of u-a", hs, err)
		}
		for _, m := range []*wire.SegmentManifest{free1, free2} {
			if err := s.RecordAccess(ctx, FootageAccess{Viewer: "wang", Role: "supervisor", ObjectID: m.SHA256, Action: "view", Granted: true}); err != nil {
				t.Fatal(err)
			}
		}
		for units, want := range map[string]int{"u-a": 2, "u-b": 0} {
			if as, err := s.AccessLog(ctx, AccessQuery{Units: []string{units}}); err != nil || len(as) != want {
				t.Errorf("access log of %s: %d rows (%v), want %d", units, len(as), err, want)
			}
			if as, err := s.AccessLog(ctx, AccessQuery{Unit: units}); err != nil || len(as) != want {
				t.Errorf("access log of unit %s: %d rows (%v), want %d", units, len(as), err, want)
			}
		}
		hs, err := s.ReceiptsOf(ctx, free2.SHA256, 0)
		if err != nil || len(hs) != 1 || hs[0].Unit != "u-a" || !hs[0].UnitKnown {
			t.Errorf("ReceiptsOf FREE/2's footage %+v %v: want unit u-a", hs, err)
		}
		hs, err = s.ReceiptsOf(ctx, leg.SHA256, 0)
		if err != nil || len(hs) != 1 || hs[0].Unit != "u-b" || !hs[0].UnitKnown {
			t.Errorf("ReceiptsOf LEG/1's footage %+v %v: want unit u-b (its reporting dock's: no dock named)", hs, err)
		}
	})
}
