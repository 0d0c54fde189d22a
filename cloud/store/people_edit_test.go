package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEditPerson: an edit changes the role, units, display name and
// disabled state in one step and appends what changed, with who changed
// it, to the person's history (adding is recorded too); disabling ends the
// person's sessions and revokes their API tokens, so enabling them again
// revives neither; a no-op edit records nothing; an unknown person is
// ErrNotFound.
func TestEditPerson(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		if err := s.SavePerson(ctx, Person{Name: "aux", Role: "auxiliary", Units: []string{"u1"}, PasswordHash: "h"}, "root"); err != nil {
			t.Fatal(err)
		}
		exp := b.clock.Now().Add(time.Hour)
		if err := s.CreateSession(ctx, Session{IDHash: "sh", Person: "aux", CSRF: "c", Expires: exp}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAPIToken(ctx, "th", "aux", "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		p, err := s.EditPerson(ctx, "aux", PersonEdit{Role: "custodian", Units: []string{"u2", "u1", "u2"}, DisplayName: "陈"}, "root", "admin")
		if err != nil || p.Role != "custodian" || !slices.Equal(p.Units, []string{"u1", "u2"}) || p.PasswordHash != "" {
			t.Fatalf("edit: %+v %v", p, err)
		}
		if _, ok, _ := s.SessionByHash(ctx, "sh"); !ok {
			t.Error("a change of role ended the session (it need not: the role is read at each request)")
		}
		if _, err := s.EditPerson(ctx, "aux", PersonEdit{Role: "custodian", Units: []string{"u1", "u2"}, DisplayName: "陈"}, "root", "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EditPerson(ctx, "aux", PersonEdit{Role: "custodian", Units: []string{"u1", "u2"}, DisplayName: "陈", Disabled: true}, "root", "admin"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.SessionByHash(ctx, "sh"); ok {
			t.Error("disabling kept the person's session")
		}
		if _, ok, _ := s.APITokenPerson(ctx, "th"); ok {
			t.Error("disabling kept the person's API token")
		}
		if _, err := s.EditPerson(ctx, "aux", PersonEdit{Role: "custodian", Units: []string{"u1"}, DisplayName: "陈"}, "root2", "admin"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.APITokenPerson(ctx, "th"); ok {
			t.Error("enabling again revived a revoked token")
		}
		ch, err := s.PersonChanges(ctx, "aux")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range ch {
			got = append(got, c.By+"|"+c.ByRole+"|"+c.Change)
		}
		want := []string{
			"root||added: role auxiliary, units u1",
			`root|admin|role auxiliary → custodian; units u1 → u1,u2; display name "" → "陈"`,
			"root|admin|disabled (sessions ended, API tokens revoked)",
			"root2|admin|units u1,u2 → u1; enabled",
		}
		if !slices.Equal(got, want) {
			t.Errorf("history:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if _, err := s.EditPerson(ctx, "nobody", PersonEdit{Role: "officer", Units: []string{"u1"}}, "root", "admin"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown person: %v", err)
		}
		for _, bad := range []PersonEdit{{}, {Role: "officer", Units: []string{"u 1"}}} {
			if _, err := s.EditPerson(ctx, "aux", bad, "root", "admin"); !errors.Is(err, ErrArgument) {
				t.Errorf("EditPerson(%+v) = %v, want ErrArgument", bad, err)
			}
		}
		if _, err := s.EditPerson(ctx, "aux", PersonEdit{Role: "officer", Units: []string{"u1"}}, "", "admin"); !errors.Is(err, ErrArgument) {
			t.Errorf("an edit without who made it: %v", err)
		}
	})
}
