package store

import (
	"context"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// A receipt a dock echoes in a manifest never counts: only the collector's
// receipts table does, and an echo the collector did not issue raises an
// alert to the recorder's enrolled unit.
func TestEchoedReceiptNeverTrusted(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s)

		// dock-b claims its REC-B/1 released with a forged receipt for an
		// object that is not in the store.
		forged := manifest("REC-B", 1, t0, 0)
		forged.State = wire.SegReleased
		forged.Receipt = &wire.Receipt{ObjectID: "sha256-" + forged.SHA256, Device: "REC-B", Seq: 1, SHA256: forged.SHA256,
			Size: forged.Size, StoredAt: t0.Add(time.Hour), KeyID: "k0", Signature: "Ym9ndXM="}
		commit(t, s, msg(t, "dock-b", "m1", t0.Add(time.Hour), forged))
		segs, err := s.Segments(ctx, "REC-B", time.Time{}, time.Time{})
		if err != nil || len(segs) != 1 {
			t.Fatalf("segments %+v %v", segs, err)
		}
		if segs[0].Receipt != nil || !segs[0].ReceivedAt.IsZero() {
			t.Fatalf("an echoed receipt counts as delivered: %+v", segs[0].Receipt)
		}
		as, err := s.Alerts(ctx, AlertFilter{Kind: KindEchoedReceipt})
		if err != nil || len(as) != 1 || as[0].Unit != "u-b" || as[0].Dock != "dock-b" || as[0].Serial != "REC-B" || as[0].Seq != 1 {
			t.Fatalf("alerts %+v %v", as, err)
		}

		// The collector's own receipt, then an echo that differs from it
		// (another object) and one that equals it.
		mine := wire.Receipt{ObjectID: "obj-real", Device: "REC-A", Seq: 2, SHA256: hash64("REC-A/2"), Size: 1 << 20,
			StoredAt: t0.Add(2 * time.Hour), KeyID: "k1", Signature: "c2ln"}
		if err := s.RecordReceipt(ctx, mine); err != nil {
			t.Fatal(err)
		}
		other := manifest("REC-A", 2, t0, 0)
		bad := mine
		bad.ObjectID = "obj-elsewhere"
		other.Receipt = &bad
		commit(t, s, msg(t, "dock-a", "m2", t0.Add(3*time.Hour), other))
		good := manifest("REC-A", 2, t0, 0)
		good.Receipt = &mine
		commit(t, s, msg(t, "dock-a", "m3", t0.Add(4*time.Hour), good))
		segs, err = s.Segments(ctx, "REC-A", time.Time{}, time.Time{})
		if err != nil || len(segs) != 1 || segs[0].Receipt == nil || *segs[0].Receipt != mine {
			t.Fatalf("segments %+v %v: want the collector's receipt", segs, err)
		}
		as, err = s.Alerts(ctx, AlertFilter{Kind: KindEchoedReceipt, Serial: "REC-A"})
		if err != nil || len(as) != 1 || as[0].Unit != "u-a" {
			t.Fatalf("alerts %+v %v: want one, for the mismatching echo", as, err)
		}
	})
}
