package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

func TestSegmentSerialsSince(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		commit(t, s, msg(t, "dock-1", "a", t0, manifest("R1", 1, t0, 0)), msg(t, "dock-1", "b", t0, manifest("R2", 1, t0, 0)))
		b.clock.Advance(time.Minute)
		mark := b.clock.Now()
		if got, err := s.SegmentSerialsSince(ctx, mark); err != nil || len(got) != 0 {
			t.Fatalf("nothing changed since mark: %v %v", got, err)
		}
		// A new manifest for R2, and a receipt for R1.
		up := manifest("R2", 1, t0, 0)
		up.State = wire.SegUploaded
		commit(t, s, msg(t, "dock-1", "c", t0.Add(time.Second), up))
		if got, _ := s.SegmentSerialsSince(ctx, mark); fmt.Sprint(got) != "[R2]" {
			t.Errorf("after manifest: %v, want [R2]", got)
		}
		b.clock.Advance(time.Minute)
		mark = b.clock.Now()
		seg := manifest("R1", 1, t0, 0)
		if err := s.RecordReceipt(ctx, wire.Receipt{ObjectID: "o1", Device: "R1", Seq: 1, SHA256: seg.SHA256, Size: seg.Size,
			StoredAt: mark, KeyID: "k", Signature: "c2ln"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.SegmentSerialsSince(ctx, mark); fmt.Sprint(got) != "[R1]" {
			t.Errorf("after receipt: %v, want [R1]", got)
		}
		if got, _ := s.SegmentSerialsSince(ctx, time.Time{}); fmt.Sprint(got) != "[R1 R2]" {
			t.Errorf("all: %v", got)
		}
		if err := s.Ping(ctx); err != nil {
			t.Error(err)
		}
	})
}
