package console

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
)

// TestAdmin: an admin sees units, docks, recorders and people, and adds a
// person with a role who can then sign in; nobody else may.
func TestAdmin(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.st.EnrollUnit(ctx, store.Unit{ID: "u1", Name: "Section 1", Custodian: "keeper"}, "test"); err != nil {
		t.Fatal(err)
	}
	if err := w.dir.Add(ctx, store.Person{Name: "root", Role: people.RoleAdmin}, "a long password", "test"); err != nil {
		t.Fatal(err)
	}
	tok, err := w.dir.IssueToken(ctx, "root", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	code, body := w.do(t, "GET", "/admin", tok, nil)
	for _, want := range []string{"Section 1", "dock-2", `data-name="chief"`, "科室负责人"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("admin page: %d, lacks %q", code, want)
		}
	}
	for _, who := range []string{"chief", "keeper", "aux"} {
		if code, _ := w.do(t, "GET", "/api/admin/registry", w.tokens[who], nil); code != http.StatusForbidden {
			t.Errorf("%s read the registry: %d", who, code)
		}
		if code, _ := w.do(t, "POST", "/api/people", w.tokens[who], jsonBody(map[string]any{"name": "x", "role": "admin", "password": "a long password"})); code != http.StatusForbidden {
			t.Errorf("%s added a person: %d", who, code)
		}
	}
	add := func(p map[string]any) (int, string) { return w.do(t, "POST", "/api/people", tok, jsonBody(p)) }
	if code, body := add(map[string]any{"name": "wang", "display_name": "王科长", "role": "supervisor", "units": []string{"u1"}, "password": "another long one"}); code != 200 ||
		!strings.Contains(body, `"created_by": "root"`) {
		t.Fatalf("add: %d %s", code, body)
	}
	for name, tc := range map[string]struct {
		p    map[string]any
		code int
	}{
		"existing name": {map[string]any{"name": "wang", "role": "officer", "units": []string{"u1"}, "password": "another long one"}, http.StatusConflict},
		"unknown role":  {map[string]any{"name": "li", "role": "boss", "units": []string{"u1"}, "password": "another long one"}, http.StatusBadRequest},
		"no unit":       {map[string]any{"name": "li", "role": "officer", "password": "another long one"}, http.StatusBadRequest},
		"short pw":      {map[string]any{"name": "li", "role": "officer", "units": []string{"u1"}, "password": "short"}, http.StatusBadRequest},
	} {
		if code, body := add(tc.p); code != tc.code {
			t.Errorf("%s: %d %s, want %d", name, code, body, tc.code)
		}
	}
	if s, err := w.dir.SignIn(ctx, "wang", "another long one"); err != nil || s.Who.Role != people.RoleSupervisor {
		t.Errorf("the person added signs in: %+v %v", s.Who, err)
	}
}
