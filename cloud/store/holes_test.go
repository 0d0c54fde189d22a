package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A supervisor's decision to release around a recorder's standing holes is
// recorded per hole with who and why, and lands in each hole alert's
// history; others may not decide, and a recorder without a hole has none
// to release around.
func TestReleaseHoles(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		for _, a := range []Alert{
			{Key: "sequence-hole/R1/3-4", Kind: "sequence-hole", Severity: "critical", Unit: "u1", Serial: "R1", Seq: 3, Title: "hole"},
			{Key: "sequence-hole/R1/9-9", Kind: "sequence-hole", Severity: "critical", Unit: "u1", Serial: "R1", Seq: 9, Title: "hole"},
			{Key: "sequence-hole/R2/5-5", Kind: "sequence-hole", Severity: "critical", Unit: "u1", Serial: "R2", Seq: 5, Title: "hole"},
		} {
			if _, err := s.UpsertAlert(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		chief := Actor{Name: "chief", Role: "supervisor"}
		if _, err := s.ReleaseHoles(ctx, Actor{Name: "keeper", Role: "custodian"}, "R1", "lost"); !errors.Is(err, ErrArgument) {
			t.Fatalf("custodian decided: %v", err)
		}
		if _, err := s.ReleaseHoles(ctx, chief, "R1", " "); !errors.Is(err, ErrArgument) {
			t.Fatalf("no reason: %v", err)
		}
		if _, err := s.ReleaseHoles(ctx, chief, "R3", "lost"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no hole: %v", err)
		}
		got, err := s.ReleaseHoles(ctx, chief, "R1", "recorder fell in the river; seq 3-4 and 9 unrecoverable")
		if err != nil || len(got) != 2 {
			t.Fatalf("decisions %+v (%v)", got, err)
		}
		list, err := s.HoleReleases(ctx, "R1")
		if err != nil || len(list) != 2 || list[0].By != "chief" || list[0].From+list[1].From != 12 || list[0].At.IsZero() {
			t.Fatalf("recorded %+v (%v)", list, err)
		}
		a, _, _ := s.AlertByKey(ctx, "sequence-hole/R1/3-4")
		hist, err := s.AlertHistory(ctx, a.ID)
		if err != nil || len(hist) != 1 || hist[0].By != "chief" || hist[0].Action != ActionExplain {
			t.Fatalf("history %+v (%v)", hist, err)
		}
		if other, _ := s.HoleReleases(ctx, "R2"); len(other) != 0 {
			t.Fatalf("R2 decided too: %+v", other)
		}
	})
}

// A decision is delivered to the dock the recorder last docked at, once;
// when the recorder docks at another dock it is due there too.
func TestHoleReleaseDelivery(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		at := b.clock.Now().Add(-time.Hour)
		commit(t, s, msg(t, "dock-1", "h1", at, health("R1", at)))
		if _, err := s.UpsertAlert(ctx, Alert{Key: "sequence-hole/R1/3-4", Kind: "sequence-hole", Severity: "critical",
			Unit: "u1", Serial: "R1", Seq: 3, Title: "hole"}); err != nil {
			t.Fatal(err)
		}
		if due, err := s.UndeliveredHoleReleases(ctx, 10); err != nil || len(due) != 0 {
			t.Fatalf("before any decision: %+v (%v)", due, err)
		}
		if _, err := s.ReleaseHoles(ctx, Actor{Name: "chief", Role: "supervisor"}, "R1", "recorder fell in the river"); err != nil {
			t.Fatal(err)
		}
		due, err := s.UndeliveredHoleReleases(ctx, 10)
		if err != nil || len(due) != 1 || due[0].Dock != "dock-1" || due[0].From != 3 || due[0].To != 4 || due[0].By != "chief" {
			t.Fatalf("due after the decision: %+v (%v)", due, err)
		}
		if err := s.HoleReleaseDelivered(ctx, due[0].ID, "dock-1"); err != nil {
			t.Fatal(err)
		}
		if again, err := s.UndeliveredHoleReleases(ctx, 10); err != nil || len(again) != 0 {
			t.Fatalf("due again after delivery: %+v (%v)", again, err)
		}
		later := at.Add(30 * time.Minute)
		commit(t, s, msg(t, "dock-2", "h2", later, health("R1", later)))
		moved, err := s.UndeliveredHoleReleases(ctx, 10)
		if err != nil || len(moved) != 1 || moved[0].Dock != "dock-2" || moved[0].ID != due[0].ID {
			t.Fatalf("after docking at dock-2: %+v (%v)", moved, err)
		}
	})
}
