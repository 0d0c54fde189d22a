package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestHolds(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		const obj = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		sup := Actor{Name: "chief-wang", Role: "supervisor"}
		for _, tc := range []struct {
			name string
			ev   HoldEvent
			want error
		}{
			{"custodian may not", HoldEvent{ObjectID: obj, Held: true, By: Actor{Name: "li", Role: "custodian"}, Reason: "complaint"}, ErrNotPermitted},
			{"auxiliary may not", HoldEvent{ObjectID: obj, Held: true, By: Actor{Name: "zhao", Role: "auxiliary"}, Reason: "complaint"}, ErrNotPermitted},
			{"no reason", HoldEvent{ObjectID: obj, Held: true, By: sup, Reason: "  "}, ErrArgument},
			{"no name", HoldEvent{ObjectID: obj, Held: true, By: Actor{Name: "", Role: "admin"}, Reason: "x"}, ErrArgument},
			{"lift what is not held", HoldEvent{ObjectID: obj, By: sup, Reason: "case closed"}, ErrHoldState},
			{"set", HoldEvent{ObjectID: obj, Held: true, By: sup, Reason: "complaint 2026-17"}, nil},
			{"set twice", HoldEvent{ObjectID: obj, Held: true, By: sup, Reason: "again"}, ErrHoldState},
			{"lift by an admin", HoldEvent{ObjectID: obj, By: Actor{Name: "admin-1", Role: "admin"}, Reason: "lawsuit withdrawn"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.RecordHold(ctx, tc.ev); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
					t.Fatalf("RecordHold: %v, want %v", err, tc.want)
				}
			})
		}
		hs, err := s.Holds(ctx, obj)
		if err != nil || len(hs) != 2 || !hs[0].Held || hs[1].Held || hs[0].By != sup || hs[1].Reason != "lawsuit withdrawn" {
			t.Fatalf("history %+v, %v", hs, err)
		}
	})
}

func TestAccessLogFilters(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		for i, a := range []FootageAccess{
			{Viewer: "wang", Role: "supervisor", ObjectID: "obj-a", Action: "view", Granted: true},
			{Viewer: "li", Role: "custodian", ObjectID: "obj-a", Action: "view", Reason: "role custodian may not view footage"},
			{Viewer: "wang", Role: "supervisor", ObjectID: "obj-b", Action: "export", Granted: true},
			{Viewer: "zhou", Role: "supervisor", ObjectID: "obj-b", Action: "view", Granted: true},
		} {
			a.At, a.Remote = t0.Add(time.Duration(i)*time.Hour), "10.0.0.1:5000"
			if err := s.RecordAccess(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			q    AccessQuery
			want []string // viewer/object per row
		}{
			{"all", AccessQuery{}, []string{"wang/obj-a", "li/obj-a", "wang/obj-b", "zhou/obj-b"}},
			{"object", AccessQuery{ObjectID: "obj-b"}, []string{"wang/obj-b", "zhou/obj-b"}},
			{"viewer", AccessQuery{Viewer: "wang"}, []string{"wang/obj-a", "wang/obj-b"}},
			{"action", AccessQuery{Action: "export"}, []string{"wang/obj-b"}},
			{"window", AccessQuery{Since: t0.Add(time.Hour), Until: t0.Add(3 * time.Hour)}, []string{"li/obj-a", "wang/obj-b"}},
			{"limit", AccessQuery{Limit: 1}, []string{"wang/obj-a"}},
			{"none", AccessQuery{Viewer: "nobody"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.AccessLog(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				var rows []string
				for _, a := range got {
					rows = append(rows, a.Viewer+"/"+a.ObjectID)
				}
				if len(rows) != len(tc.want) {
					t.Fatalf("rows %v, want %v", rows, tc.want)
				}
				for i := range rows {
					if rows[i] != tc.want[i] {
						t.Fatalf("rows %v, want %v", rows, tc.want)
					}
				}
			})
		}
	})
}
