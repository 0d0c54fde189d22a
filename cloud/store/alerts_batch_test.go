package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// TestUpsertAlertsBatch: a batch creates what is new, refreshes what is
// open, leaves what is closed; a key named twice is created once; one
// invalid alert refuses the whole batch and writes nothing.
func TestUpsertAlertsBatch(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		mk := func(key, title string) Alert {
			return Alert{Key: key, Kind: "sequence-hole", Severity: "critical", Unit: "u1", Serial: "R1", Title: title, At: t0}
		}
		if _, err := s.UpsertAlert(ctx, mk("open", "old")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpsertAlert(ctx, mk("closed", "old")); err != nil {
			t.Fatal(err)
		}
		c, _, _ := s.AlertByKey(ctx, "closed")
		if err := s.CloseAlert(ctx, c.ID, "test"); err != nil {
			t.Fatal(err)
		}
		got, err := s.UpsertAlerts(ctx, []Alert{mk("new-b", "t"), mk("open", "new"), mk("closed", "new"), mk("new-a", "t"), mk("new-b", "again")})
		if err != nil {
			t.Fatal(err)
		}
		if want := []bool{true, false, false, true, false}; !slices.Equal(got, want) {
			t.Fatalf("created %v, want %v", got, want)
		}
		for key, title := range map[string]string{"open": "new", "closed": "old", "new-a": "t", "new-b": "again"} {
			if a, ok, err := s.AlertByKey(ctx, key); err != nil || !ok || a.Title != title {
				t.Errorf("%s: %+v %v %v, want title %q", key, a, ok, err, title)
			}
		}
		bad := mk("", "t")
		if _, err := s.UpsertAlerts(ctx, []Alert{mk("never", "t"), bad}); !errors.Is(err, ErrArgument) {
			t.Fatalf("batch with an invalid alert: %v", err)
		}
		if _, ok, _ := s.AlertByKey(ctx, "never"); ok {
			t.Fatal("a refused batch wrote an alert")
		}
	})
}

// TestClaimAnnouncementsOnce: concurrent batches (and single claims) over
// overlapping keys claim each alert exactly once.
func TestClaimAnnouncementsOnce(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		var keys []string
		var as []Alert
		for i := range 40 {
			k := fmt.Sprintf("k%02d", i)
			keys = append(keys, k)
			as = append(as, Alert{Key: k, Kind: "sequence-hole", Severity: "critical", Unit: "u1", Title: "t", At: t0})
		}
		if _, err := s.UpsertAlerts(ctx, as); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		count := map[string]int{}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each claimer takes an overlapping window of the keys,
				// in its own order, with an unknown key and a repeat.
				mine := append(slices.Clone(keys[w*5:min(len(keys), w*5+20)]), "unknown", keys[w*5])
				slices.Reverse(mine)
				got, err := s.ClaimAnnouncements(ctx, mine)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for k := range got {
					count[k]++
				}
				mu.Unlock()
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, k := range keys[30:] {
				ok, err := s.ClaimAnnouncement(ctx, k)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					mu.Lock()
					count[k]++
					mu.Unlock()
				}
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for _, k := range keys {
			if count[k] != 1 {
				t.Errorf("%s claimed %d times", k, count[k])
			}
		}
		if count["unknown"] != 0 {
			t.Error("an unknown key was claimed")
		}
		if left, err := s.Unannounced(ctx, 0); err != nil || len(left) != 0 {
			t.Fatalf("unannounced after the claims: %d (%v)", len(left), err)
		}
		if got, err := s.ClaimAnnouncements(ctx, keys); err != nil || len(got) != 0 {
			t.Fatalf("claimed again: %v (%v)", got, err)
		}
	})
}
