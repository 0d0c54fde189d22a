package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestAlertPages: listing the inbox a page at a time with the cursor of
// each page's last alert (AlertCursorOf) yields every alert once, in the
// order of one whole listing (most severe first, then newest, ties by id),
// for every state and for one; on both engines.
func TestAlertPages(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		sevs := []string{"info", "warning", "critical"}
		for i := range 23 {
			a := sampleAlert()
			a.Key, a.Severity, a.Unit = fmt.Sprintf("k%02d", i), sevs[i%3], "unit-1"
			if i%4 == 0 {
				a.OpenedAt = t0.Add(time.Hour) // ties on the opening time, broken by id
			} else {
				a.OpenedAt = t0.Add(time.Duration(i) * time.Second)
			}
			if _, err := s.UpsertAlert(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		whole, err := s.Alerts(ctx, AlertFilter{BySeverity: true})
		if err != nil || len(whole) != 23 {
			t.Fatalf("whole listing: %d %v", len(whole), err)
		}
		for i := 1; i < len(whole); i++ {
			a, b := whole[i-1], whole[i]
			if wa, wb := weightOf(a.Severity), weightOf(b.Severity); wa < wb || wa == wb && (a.OpenedAt.Before(b.OpenedAt) || a.OpenedAt.Equal(b.OpenedAt) && a.ID < b.ID) {
				t.Fatalf("out of order at %d: %+v before %+v", i, a, b)
			}
		}
		if err := s.CloseAlert(ctx, whole[5].ID, "sup"); err != nil {
			t.Fatal(err)
		}
		for _, f := range []AlertFilter{{BySeverity: true}, {BySeverity: true, State: AlertOpen}, {}, {Units: []string{"unit-1"}, BySeverity: true}} {
			want, err := s.Alerts(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			page := f
			page.Limit = 4
			for range 10 {
				list, err := s.Alerts(ctx, page)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range list {
					got = append(got, a.ID)
				}
				if len(list) < page.Limit {
					break
				}
				page.After = AlertCursorOf(list[len(list)-1])
			}
			var ids []int64
			for _, a := range want {
				ids = append(ids, a.ID)
			}
			if !slices.Equal(got, ids) {
				t.Errorf("filter %+v: pages %v, whole %v", f, got, ids)
			}
		}
	})
}

// TestAlertCountsUpTo: counts by severity and kind are exact up to the
// bound; past it they are those of the most urgent alerts, and say so.
func TestAlertCountsUpTo(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		for i, sev := range []string{"info", "info", "warning", "critical", "warning", "info"} {
			a := sampleAlert()
			a.Key, a.Severity, a.Kind = fmt.Sprintf("k%d", i), sev, []string{"battery-worn", "clock-drift"}[i%2]
			a.OpenedAt = t0.Add(time.Duration(i) * time.Second)
			if _, err := s.UpsertAlert(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		str := func(cs []AlertCount) string { return fmt.Sprint(cs) }
		counts, exact, err := s.AlertCountsUpTo(ctx, AlertFilter{}, 6)
		if err != nil || !exact || str(counts) != "[{critical clock-drift 1} {warning battery-worn 2} {info battery-worn 1} {info clock-drift 2}]" {
			t.Errorf("up to 6 of 6: %v exact=%v %v", counts, exact, err)
		}
		// The 4 most urgent: the critical, both warnings, the newest info (k5).
		counts, exact, err = s.AlertCountsUpTo(ctx, AlertFilter{}, 4)
		if err != nil || exact || str(counts) != "[{critical clock-drift 1} {warning battery-worn 2} {info clock-drift 1}]" {
			t.Errorf("up to 4 of 6: %v exact=%v %v", counts, exact, err)
		}
		if counts, exact, err := s.AlertCountsUpTo(ctx, AlertFilter{Units: []string{}}, 4); err != nil || !exact || len(counts) != 0 {
			t.Errorf("no units: %v %v %v", counts, exact, err)
		}
	})
}
