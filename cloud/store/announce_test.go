package store

import (
	"context"
	"testing"
)

// Alerts are delivered exactly once: the first claim wins, and the sweep
// lists only those nobody claimed.
func TestAnnouncementClaimedOnce(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		for _, a := range []Alert{
			{Key: "report-time/dock-a/R1", Kind: KindReportTime, Severity: "warning", Unit: "u-a", Title: "t"},
			{Key: "hole/R1/4", Kind: "sequence-hole", Severity: "warning", Unit: "u-a", Title: "t"},
		} {
			if _, err := s.UpsertAlert(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		as, err := s.Unannounced(ctx, 0)
		if err != nil || len(as) != 2 || as[0].Key != "report-time/dock-a/R1" || as[1].Key != "hole/R1/4" {
			t.Fatalf("unannounced %+v %v", as, err)
		}
		if ok, err := s.ClaimAnnouncement(ctx, as[1].Key); err != nil || !ok {
			t.Fatalf("claim %s: %v %v", as[1].Key, ok, err)
		}
		for i, want := range []bool{true, false} {
			ok, err := s.ClaimAnnouncement(ctx, as[0].Key)
			if err != nil || ok != want {
				t.Fatalf("claim %d = %v %v, want %v", i, ok, err, want)
			}
		}
		if as, err := s.Unannounced(ctx, 0); err != nil || len(as) != 0 {
			t.Fatalf("after the claim: %+v %v", as, err)
		}
	})
}
