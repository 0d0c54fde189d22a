package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
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

// The access log kept to a unit's footage, in the query: the unit of the
// segment an accessed object is receipted for (the recorder's enrolled
// unit, else the reporting dock's).
func TestAccessLogByUnit(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		for _, u := range []struct{ unit, dock string }{{"unit-7", "dock-1"}, {"unit-9", "dock-2"}} {
			if err := s.EnrollUnit(ctx, Unit{ID: u.unit}, "test"); err != nil {
				t.Fatal(err)
			}
			if err := s.EnrollDock(ctx, u.dock, u.unit, u.dock+"-token-0123456789"); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.EnrollRecorder(ctx, Recorder{Serial: "R1", Unit: "unit-7", PublicKey: testKey(1)}, "test"); err != nil {
			t.Fatal(err)
		}
		// R1 is enrolled in unit-7; R2 is not
		// enrolled and reported by unit-9's dock.
		commit(t, s, msg(t, "dock-1", "a", t0, manifest("R1", 1, t0, 0)), msg(t, "dock-2", "b", t0, manifest("R2", 1, t0, 0)))
		key := ed25519.NewKeyFromSeed(make([]byte, 32))
		for _, r := range []wire.Receipt{
			{ObjectID: hash64("R1/1") + "@v1", Device: "R1", Seq: 1, SHA256: hash64("R1/1"), Size: 1 << 20, StoredAt: t0},
			{ObjectID: hash64("R2/1") + "@v1", Device: "R2", Seq: 1, SHA256: hash64("R2/1"), Size: 1 << 20, StoredAt: t0},
		} {
			r.Sign("k", key)
			if err := s.RecordReceipt(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		for i, obj := range []string{hash64("R1/1") + "@v1", hash64("R2/1") + "@v1", "not-receipted"} {
			if err := s.RecordAccess(ctx, FootageAccess{At: t0.Add(time.Duration(i) * time.Minute), Viewer: "wang", Role: "supervisor",
				ObjectID: obj, Action: "view", Granted: true}); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			q    AccessQuery
			want []string
		}{
			{"unit", AccessQuery{Unit: "unit-7"}, []string{hash64("R1/1") + "@v1"}},
			{"unit of the dock", AccessQuery{Unit: "unit-9"}, []string{hash64("R2/1") + "@v1"}},
			{"scope", AccessQuery{Units: []string{"unit-9", "unit-x"}}, []string{hash64("R2/1") + "@v1"}},
			{"scope and unit", AccessQuery{Units: []string{"unit-9"}, Unit: "unit-7"}, nil},
			{"empty scope", AccessQuery{Units: []string{}}, nil},
			{"every unit", AccessQuery{}, []string{hash64("R1/1") + "@v1", hash64("R2/1") + "@v1", "not-receipted"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.AccessLog(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				var objs []string
				for _, a := range got {
					objs = append(objs, a.ObjectID)
				}
				if strings.Join(objs, " ") != strings.Join(tc.want, " ") {
					t.Fatalf("objects %v, want %v", objs, tc.want)
				}
			})
		}
	})
}
