package store

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// What the custody retention job reads: objects held now (the latest hold
// event wins), and segments linked to a case that have a receipt, paged
// in (serial, seq) order.
func TestRetentionQueries(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		sup := Actor{Name: "chief-wang", Role: "supervisor"}
		for _, ev := range []HoldEvent{
			{ObjectID: hash64("a"), Held: true, By: sup, Reason: "lawsuit"},
			{ObjectID: hash64("b"), Held: true, By: sup, Reason: "complaint"},
			{ObjectID: hash64("b"), By: sup, Reason: "complaint closed"},
			{ObjectID: hash64("c"), Held: true, By: sup, Reason: "complaint"},
		} {
			if err := s.RecordHold(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		held, err := s.HeldObjects(ctx)
		if err != nil || strings.Join(held, " ") != strings.Join([]string{hash64("a"), hash64("c")}, " ") {
			t.Fatalf("held %v, %v", held, err)
		}

		m1, m2, m3 := manifest("R1", 1, t0, 0), manifest("R1", 2, t0.Add(time.Hour), 0), manifest("R2", 1, t0.Add(2*time.Hour), 0)
		commit(t, s, msg(t, "dock-1", "a", t0, m1), msg(t, "dock-1", "b", t0, m2), msg(t, "dock-1", "c", t0, m3))
		key := ed25519.NewKeyFromSeed(make([]byte, 32))
		for _, m := range []*wire.SegmentManifest{m1, m3} { // R1/2 has no receipt yet
			r := wire.Receipt{ObjectID: hash64(m.Serial) + "@v1", Device: m.Serial, Seq: m.Seq, SHA256: hash64(m.Serial), Size: 10, StoredAt: t0}
			r.Sign("k", key)
			if err := s.RecordReceipt(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		for _, l := range []CaseLink{
			{Serial: "R1", Seq: 1, Case: "case-1", Type: "lawsuit", By: sup, Reason: "x"},
			{Serial: "R1", Seq: 1, Case: "case-2", Type: "complaint", By: sup, Reason: "y"},
			{Serial: "R1", Seq: 2, Case: "case-1", By: sup, Reason: "z"},
			{Serial: "R2", Seq: 1, Case: "case-3", By: sup, Reason: "w"},
		} {
			if err := s.LinkCase(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		page, err := s.LinkedFootage(ctx, "", 0, 1)
		if err != nil || len(page) != 1 || page[0].Serial != "R1" || page[0].Seq != 1 || page[0].Object != hash64("R1")+"@v1" ||
			len(page[0].Links) != 2 || page[0].Links[0].Type != "lawsuit" || !page[0].Start.Equal(m1.Start) {
			t.Fatalf("first page %+v, %v", page, err)
		}
		page, err = s.LinkedFootage(ctx, page[0].Serial, page[0].Seq, 10)
		if err != nil || len(page) != 1 || page[0].Serial != "R2" || page[0].Object != hash64("R2")+"@v1" {
			t.Fatalf("second page %+v, %v", page, err)
		}
		if page, err = s.LinkedFootage(ctx, "R2", 1, 10); err != nil || len(page) != 0 {
			t.Fatalf("past the end %+v, %v", page, err)
		}
	})
}
