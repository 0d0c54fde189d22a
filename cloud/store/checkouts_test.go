package store

import (
	"context"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// TestAssignments: a checkout holds from the tap until the recorder's
// next docking, and is believed only from the dock the recorder was docked
// in at the tap; another unit's dock changes nothing.
func TestAssignments(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s)
		if err := s.EnrollDockBy(ctx, "dock-a2", "u-a", "token-of-dock-a2-0123456789", "admin-1"); err != nil {
			t.Fatal(err)
		}
		now := b.clock.Now()
		d1, tap, d2 := now.Add(-20*time.Hour), now.Add(-19*time.Hour), now.Add(-5*time.Hour)
		commit(t, s, msg(t, "dock-a", "h1", d1, health("REC-A", d1)),
			msg(t, "dock-a", "c1", tap, &wire.Checkout{Serial: "REC-A", Officer: "o-77", Slot: 2, At: tap}),
			msg(t, "dock-a", "c1", tap, &wire.Checkout{Serial: "REC-A", Officer: "o-77", Slot: 2, At: tap}),
			// dock-a2 (same unit) did not hold the recorder at that time.
			msg(t, "dock-a2", "x1", tap, &wire.Checkout{Serial: "REC-A", Officer: "o-66", Slot: 0, At: tap.Add(time.Minute)}),
			// dock-a may not check out another unit's recorder at all.
			msg(t, "dock-a", "x2", tap, &wire.Checkout{Serial: "REC-B", Officer: "o-66", Slot: 0, At: tap}))
		as, err := s.Assignments(ctx, "REC-A", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(as) != 1 || as[0].Officer != "o-77" || !as[0].From.Equal(tap) || !as[0].Until.IsZero() || as[0].Dock != "dock-a" || as[0].Slot != 2 {
			t.Fatalf("assignments %+v", as)
		}
		commit(t, s, msg(t, "dock-a2", "h2", d2, health("REC-A", d2)))
		as, _ = s.Assignments(ctx, "REC-A", time.Time{}, time.Time{})
		if len(as) != 1 || !as[0].Until.Equal(d2) {
			t.Fatalf("after the next docking: %+v", as)
		}
		if as, _ := s.Assignments(ctx, "REC-A", tap.Add(time.Second), time.Time{}); len(as) != 0 {
			t.Errorf("window after the tap: %+v", as)
		}
		if n := b.count(t, s, `SELECT count(*) FROM checkouts WHERE serial = 'REC-B'`); n != 0 {
			t.Errorf("another unit's checkout stored: %d", n)
		}
	})
}
