package store

import (
	"context"
	"errors"
	"testing"
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
