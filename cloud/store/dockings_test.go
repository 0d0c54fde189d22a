package store

import (
	"context"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// TestDockingsInventory: the inventory parts and the complete marker land
// once each (redelivery changes nothing), a second docking listing a
// segment again keeps its first claim, and the summary says how far the
// latest docking got.
func TestDockingsInventory(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		d1, d2 := t0.Add(time.Hour), t0.Add(30*time.Hour)
		entry := func(seq uint64, h string) wire.InventoryEntry {
			st := t0.Add(time.Duration(seq) * time.Minute)
			return wire.InventoryEntry{Seq: seq, Start: st, End: st.Add(30 * time.Second), Size: int64(seq), SHA256: hash64(h), StopCause: wire.StopUser}
		}
		part := func(at time.Time, part, parts int, last uint64, es ...wire.InventoryEntry) *wire.Docking {
			return &wire.Docking{Serial: "R1", DockedAt: at, Phase: wire.DockingInventory, LastSeq: last, Part: part, Parts: parts, Segments: es}
		}
		if _, ok, err := s.Dockings(ctx, "R1"); err != nil || ok {
			t.Fatalf("dockings before any: ok %v err %v", ok, err)
		}
		commit(t, s, msg(t, "dock-1", "a", d1, part(d1, 1, 2, 5, entry(1, "a"), entry(2, "b"))))
		sum, ok, err := s.Dockings(ctx, "R1")
		if err != nil || !ok || sum.LastSeq != 5 || sum.Listed || sum.Complete || !sum.Latest.Equal(d1) || sum.Dock != "dock-1" {
			t.Fatalf("after part 1 of 2: %+v ok %v err %v", sum, ok, err)
		}
		commit(t, s, msg(t, "dock-1", "b", d1, part(d1, 2, 2, 5, entry(4, "d"))),
			msg(t, "dock-1", "b", d1, part(d1, 2, 2, 5, entry(4, "d"))),
			msg(t, "dock-1", "c", d1, &wire.Docking{Serial: "R1", DockedAt: d1, Phase: wire.DockingComplete, LastSeq: 5, Part: 1, Parts: 1, Copied: 3}))
		sum, _, _ = s.Dockings(ctx, "R1")
		if !sum.Listed || !sum.Complete || sum.LastSeq != 5 {
			t.Fatalf("after both parts and the marker: %+v", sum)
		}
		// The next docking lists seq 4 again (with another claim: ignored)
		// and a new one; its inventory is not complete yet.
		changed := entry(4, "other")
		commit(t, s, msg(t, "dock-2", "a", d2, part(d2, 1, 1, 7, changed, entry(7, "g"))))
		sum, _, _ = s.Dockings(ctx, "R1")
		if !sum.Listed || sum.Complete || sum.LastSeq != 7 || !sum.Latest.Equal(d2) || sum.Dock != "dock-2" {
			t.Fatalf("second docking: %+v", sum)
		}
		inv, err := s.Inventory(ctx, "R1", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var seqs []uint64
		for _, v := range inv {
			seqs = append(seqs, v.Seq)
			if v.Seq == 4 && (v.SHA256 != hash64("d") || !v.DockedAt.Equal(d2)) {
				t.Errorf("seq 4 listed again: %+v (want the first claim, the latest docking)", v)
			}
		}
		if len(seqs) != 4 || seqs[0] != 1 || seqs[3] != 7 {
			t.Errorf("inventory seqs %v", seqs)
		}
		inv, _ = s.Inventory(ctx, "R1", t0.Add(2*time.Minute), t0.Add(5*time.Minute))
		if len(inv) != 2 || inv[0].Seq != 2 || inv[1].Seq != 4 {
			t.Errorf("inventory window: %+v", inv)
		}
		late, err := s.LateArrivals(ctx, time.Time{}, t0.Add(3*time.Minute))
		if err != nil || !late["R1"].Equal(t0.Add(time.Minute)) {
			t.Errorf("late arrivals %v err %v", late, err)
		}
	})
}

// TestEscalateOnce: of two collectors escalating an alert to the same
// level, one is told it did; a closed alert is not escalated.
func TestEscalateOnce(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		if _, err := s.UpsertAlert(ctx, Alert{Key: "k1", Kind: "sequence-hole", Severity: "critical", Unit: "u", Title: "t", At: t0}); err != nil {
			t.Fatal(err)
		}
		a, _, _ := s.AlertByKey(ctx, "k1")
		first, err1 := s.EscalateOnce(ctx, a.ID, 1)
		second, err2 := s.EscalateOnce(ctx, a.ID, 1)
		if !first || second || err1 != nil || err2 != nil {
			t.Fatalf("escalations: %v %v (%v %v)", first, second, err1, err2)
		}
		if err := s.CloseAlert(ctx, a.ID, "chief"); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.EscalateOnce(ctx, a.ID, 2); ok || err != nil {
			t.Fatalf("closed alert escalated: %v %v", ok, err)
		}
	})
}
