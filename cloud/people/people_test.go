package people

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/store"
)

// cheap keeps the tests fast; Verify reads the parameters from each hash.
var cheap = Hasher{Time: 1, MemoryKiB: 64, Threads: 1}

func TestPasswordHash(t *testing.T) {
	h, err := cheap.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, hash, pw string
		ok             bool
	}{
		{"right", h, "correct horse battery", true},
		{"wrong", h, "correct horse battery!", false},
		{"not argon2id", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", "x", false},
		{"huge memory", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", "x", false},
		{"garbage", "$$$", "x", false},
		{"empty", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(tc.hash, tc.pw); (err == nil) != tc.ok {
				t.Errorf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := cheap.Hash("short"); err == nil {
		t.Error("a 5-byte password was accepted")
	}
}

func TestPermissions(t *testing.T) {
	footage := store.Alert{Kind: "interruption-unexplained", Unit: "u1"}
	battery := store.Alert{Kind: "battery-worn", Unit: "u1"}
	other := store.Alert{Kind: "battery-worn", Unit: "u2"}
	for _, tc := range []struct {
		role                                                        string
		footage, ackFootage, ackEquip, closeEquip, explain, outside bool
	}{
		{RoleSupervisor, true, true, true, true, true, false},
		{RoleAuxiliary, false, false, true, true, true, false},
		{RoleCustodian, false, false, true, true, true, false},
		{RoleOfficer, false, false, false, false, false, false},
		{RoleAdmin, false, false, true, true, true, true},
	} {
		t.Run(tc.role, func(t *testing.T) {
			p := Principal{Name: "p", Role: tc.role, Units: []string{"u1"}}
			can := func(a store.Alert, act string) bool { ok, _ := p.CanAct(a, act); return ok }
			got := []bool{p.CanViewFootage(), can(footage, store.ActionAcknowledge) && can(footage, store.ActionClose),
				can(battery, store.ActionAcknowledge), can(battery, store.ActionClose), can(footage, store.ActionExplain),
				can(other, store.ActionClose)}
			want := []bool{tc.footage, tc.ackFootage, tc.ackEquip, tc.closeEquip, tc.explain, tc.outside}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("permission %d = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestDirectory(t *testing.T) {
	ctx := context.Background()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "c.db"), &store.Opts{Logger: slog.New(slog.DiscardHandler), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := New(st, Opts{Clock: clock, Hasher: &cheap, SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Add(ctx, store.Person{Name: "chief-li", Role: "boss", Units: []string{"u1"}}, "long enough pw", "admin"); !errors.Is(err, store.ErrArgument) {
		t.Errorf("unknown role: %v", err)
	}
	if err := d.Add(ctx, store.Person{Name: "chief-li", Role: RoleSupervisor}, "long enough pw", "admin"); !errors.Is(err, store.ErrArgument) {
		t.Errorf("supervisor without a unit: %v", err)
	}
	if err := d.Add(ctx, store.Person{Name: "chief-li", DisplayName: "李科长", Role: RoleSupervisor, Units: []string{"u1"}}, "long enough pw", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SignIn(ctx, "chief-li", "wrong password"); !errors.Is(err, ErrPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := d.SignIn(ctx, "nobody", "long enough pw"); !errors.Is(err, ErrPassword) {
		t.Errorf("unknown person: %v", err)
	}
	s, err := d.SignIn(ctx, "chief-li", "long enough pw")
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.FromCookie(ctx, s.Cookie)
	if err != nil || got.Who.Name != "chief-li" || got.Who.Role != RoleSupervisor || got.CSRF != s.CSRF || got.Who.Label() != "李科长" {
		t.Fatalf("session %+v %v", got, err)
	}
	tok, err := d.IssueToken(ctx, "chief-li", "case system", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := d.FromToken(ctx, tok); err != nil || p.Name != "chief-li" {
		t.Errorf("token: %+v %v", p, err)
	}
	if _, err := d.FromToken(ctx, tok+"x"); !errors.Is(err, ErrUnknown) {
		t.Errorf("altered token: %v", err)
	}
	if _, err := d.FromCookie(ctx, s.CSRF); !errors.Is(err, ErrUnknown) {
		t.Errorf("the CSRF token as a cookie: %v", err)
	}
	// Sessions expire; signing out ends one; disabling a person ends all.
	clock.Advance(2 * time.Hour)
	if _, err := d.FromCookie(ctx, s.Cookie); !errors.Is(err, ErrUnknown) {
		t.Errorf("expired session: %v", err)
	}
	s2, _ := d.SignIn(ctx, "chief-li", "long enough pw")
	if err := d.SignOut(ctx, s2.Cookie); err != nil {
		t.Fatal(err)
	}
	if _, err := d.FromCookie(ctx, s2.Cookie); !errors.Is(err, ErrUnknown) {
		t.Errorf("signed-out session: %v", err)
	}
	if err := d.Add(ctx, store.Person{Name: "chief-li", Role: RoleSupervisor, Units: []string{"u1"}, Disabled: true}, "", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.FromToken(ctx, tok); !errors.Is(err, ErrUnknown) {
		t.Errorf("a disabled person's token: %v", err)
	}
	// Guessing is throttled per name.
	var throttled bool
	for range 10 {
		if _, err := d.SignIn(ctx, "guess", "wrong password"); errors.Is(err, ErrThrottled) {
			throttled = true
		}
	}
	if !throttled {
		t.Error("ten quick guesses were not throttled")
	}
}
