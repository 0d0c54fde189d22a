package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

func TestPeopleSessionsTokens(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		for _, bad := range []Person{{}, {Name: "x"}, {Name: "bad name!", Role: "supervisor"}, {Name: "x", Role: "supervisor", Units: []string{"u 1"}}} {
			if err := s.SavePerson(ctx, bad, "admin"); !errors.Is(err, ErrArgument) {
				t.Errorf("SavePerson(%+v) = %v, want ErrArgument", bad, err)
			}
		}
		p := Person{Name: "chief", DisplayName: "李科长", Role: "supervisor", Units: []string{"u2", "u1", "u1"}, PasswordHash: "h1"}
		if err := s.SavePerson(ctx, p, "admin"); err != nil {
			t.Fatal(err)
		}
		// An update without a hash keeps the stored one; units are replaced.
		p.PasswordHash, p.Units = "", []string{"u3"}
		if err := s.SavePerson(ctx, p, "admin"); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.PersonByName(ctx, "chief")
		if err != nil || !ok || got.PasswordHash != "h1" || !slices.Equal(got.Units, []string{"u3"}) || got.DisplayName != "李科长" {
			t.Fatalf("person %+v %v %v", got, ok, err)
		}
		exp := b.clock.Now().Add(time.Hour)
		if err := s.CreateSession(ctx, Session{IDHash: "sh", Person: "chief", CSRF: "c", Expires: exp}); err != nil {
			t.Fatal(err)
		}
		if ss, ok, err := s.SessionByHash(ctx, "sh"); err != nil || !ok || ss.Person != "chief" || ss.CSRF != "c" {
			t.Errorf("session %+v %v %v", ss, ok, err)
		}
		if err := s.CreateAPIToken(ctx, "th", "chief", "case system", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAPIToken(ctx, "th2", "nobody", "", time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("token for nobody: %v", err)
		}
		b.clock.Advance(2 * time.Hour)
		if _, ok, _ := s.SessionByHash(ctx, "sh"); ok {
			t.Error("an expired session is still valid")
		}
		if who, ok, err := s.APITokenPerson(ctx, "th"); err != nil || !ok || who != "chief" {
			t.Errorf("token %q %v %v", who, ok, err)
		}
	})
}

func TestFleetByUnits(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		for _, d := range []struct{ id, unit string }{{"dock-1", "u1"}, {"dock-2", "u2"}} {
			if err := s.EnrollDock(ctx, d.id, d.unit, "a-token-of-16-chars"); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.EnrollUnit(ctx, Unit{ID: "u1"}, "admin"); err != nil {
			t.Fatal(err)
		}
		// R3 is found through its enrolment, R1 through its dock.
		if err := s.EnrollRecorder(ctx, Recorder{Serial: "R3", Unit: "u1", PublicKey: make([]byte, 32)}, "admin"); err != nil {
			t.Fatal(err)
		}
		commit(t, s,
			msg(t, "dock-1", "h1", t0, health("R1", t0)),
			msg(t, "dock-2", "h2", t0, health("R2", t0)),
			msg(t, "dock-1", "h3", t0, health("R3", t0)),
			msg(t, "dock-1", "s1", t0, &wire.SlotState{Slot: 0, State: wire.SlotEmpty}),
			msg(t, "dock-2", "s2", t0, &wire.SlotState{Slot: 1, State: wire.SlotEmpty}))
		for _, tc := range []struct {
			units          []string
			devices, docks []string
			slots          int
		}{
			{nil, []string{"R1", "R2", "R3"}, []string{"dock-1", "dock-2"}, 2},
			{[]string{}, nil, nil, 0},
			{[]string{"u1"}, []string{"R1", "R3"}, []string{"dock-1"}, 1},
			{[]string{"u3", "u2"}, []string{"R2"}, []string{"dock-2"}, 1},
		} {
			devs, err := s.DevicesIn(ctx, tc.units)
			if err != nil {
				t.Fatal(err)
			}
			var serials []string
			for _, d := range devs {
				serials = append(serials, d.Serial)
			}
			docks, err := s.DocksIn(ctx, tc.units)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range docks {
				ids = append(ids, d.ID)
			}
			slots, err := s.SlotsIn(ctx, tc.units)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(serials, tc.devices) || !slices.Equal(ids, tc.docks) || len(slots) != tc.slots {
				t.Errorf("units %v: devices %v docks %v slots %d; want %v %v %d", tc.units, serials, ids, len(slots), tc.devices, tc.docks, tc.slots)
			}
		}
	})
}
