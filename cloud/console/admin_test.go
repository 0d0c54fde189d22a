package console

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
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

// TestAdminEditsPeople: an admin changes a person's role and units and
// disables a person in the browser (a CSRF-protected form) and through the
// API; each change is in the person's history with who made it; a
// disabled person's open session and API token are refused at their very
// next request, and they cannot sign in; nobody but an admin may edit,
// and an admin may not disable themselves.
func TestAdminEditsPeople(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.dir.Add(ctx, store.Person{Name: "root", Role: people.RoleAdmin}, "a long password", "test"); err != nil {
		t.Fatal(err)
	}
	rootTok, err := w.dir.IssueToken(ctx, "root", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	// The supervisor "chief" is signed in in a browser and holds a token.
	chief := signedIn(t, w, "chief")
	if code, _ := chief.get("/inbox"); code != 200 {
		t.Fatalf("chief's inbox before: %d", code)
	}
	for _, who := range []string{"chief", "keeper", "aux"} {
		if code, _ := w.do(t, "POST", "/api/people/aux", w.tokens[who], jsonBody(map[string]any{"role": "admin"})); code != http.StatusForbidden {
			t.Errorf("%s edited a person: %d", who, code)
		}
		if code, _ := w.do(t, "GET", "/admin/people/aux", w.tokens[who], nil); code != http.StatusForbidden {
			t.Errorf("%s opened a person's page: %d", who, code)
		}
	}
	// The admin, in a browser: the form needs the session's CSRF token.
	root := signedIn(t, w, "root")
	code, page := root.get("/admin")
	if code != 200 || !strings.Contains(page, `href="/admin/people/keeper"`) {
		t.Fatalf("admin page: %d, no edit link for keeper", code)
	}
	code, page = root.get("/admin/people/keeper")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if code != 200 || csrf == nil || !strings.Contains(page, `id="edit-person"`) {
		t.Fatalf("keeper's page: %d\n%s", code, page)
	}
	form := url.Values{"role": {"custodian"}, "units": {"u1, u2"}, "display_name": {"赵装备"}}
	if code := root.post("/admin/people/keeper", form); code != http.StatusForbidden {
		t.Errorf("a form without the CSRF token: %d, want 403", code)
	}
	form.Set("csrf", csrf[1])
	if code := root.post("/admin/people/keeper", form); code != 200 {
		t.Errorf("the admin's edit: %d", code)
	}
	if p, _, _ := w.st.PersonByName(ctx, "keeper"); !slices.Equal(p.Units, []string{"u1", "u2"}) || p.DisplayName != "赵装备" {
		t.Errorf("keeper after the edit: %+v", p)
	}
	// Disable chief with the form: chief's session and token stop at once.
	form = url.Values{"csrf": {csrf[1]}, "role": {"supervisor"}, "units": {"u1"}, "disabled": {"1"}}
	if code := root.post("/admin/people/chief", form); code != 200 {
		t.Errorf("disabling chief: %d", code)
	}
	if code, _ := chief.get("/api/me"); code != http.StatusUnauthorized {
		t.Errorf("a disabled person's session: %d, want 401", code)
	}
	if code, _ := w.do(t, "GET", "/api/alerts", w.tokens["chief"], nil); code != http.StatusUnauthorized {
		t.Errorf("a disabled person's API token: %d, want 401", code)
	}
	if _, err := w.dir.SignIn(ctx, "chief", "a long password"); !errors.Is(err, people.ErrPassword) {
		t.Errorf("a disabled person signs in: %v", err)
	}
	// Through the API: enable chief again; the old token stays revoked.
	code, body := w.do(t, "POST", "/api/people/chief", rootTok, jsonBody(map[string]any{"role": "supervisor", "units": []string{"u1"}}))
	if code != 200 || !strings.Contains(body, `"change": "enabled"`) || !strings.Contains(body, `"by": "root"`) {
		t.Errorf("enabling chief: %d %s", code, body)
	}
	if code, _ := w.do(t, "GET", "/api/alerts", w.tokens["chief"], nil); code != http.StatusUnauthorized {
		t.Errorf("a revoked token after enabling again: %d, want 401", code)
	}
	code, body = w.do(t, "GET", "/api/people/chief", rootTok, nil)
	if code != 200 || !strings.Contains(body, "disabled (sessions ended, API tokens revoked)") || strings.Count(body, `"by": "root"`) != 2 {
		t.Errorf("chief's history: %d %s", code, body)
	}
	for name, tc := range map[string]struct {
		path string
		e    map[string]any
		code int
	}{
		"disable oneself": {"/api/people/root", map[string]any{"role": "admin", "disabled": true}, http.StatusConflict},
		"demote oneself":  {"/api/people/root", map[string]any{"role": "supervisor", "units": []string{"u1"}}, http.StatusConflict},
		"unknown role":    {"/api/people/aux", map[string]any{"role": "boss", "units": []string{"u1"}}, http.StatusBadRequest},
		"no unit":         {"/api/people/aux", map[string]any{"role": "auxiliary"}, http.StatusBadRequest},
		"nobody":          {"/api/people/nobody", map[string]any{"role": "auxiliary", "units": []string{"u1"}}, http.StatusNotFound},
		"unknown field":   {"/api/people/aux", map[string]any{"role": "auxiliary", "units": []string{"u1"}, "password": "x"}, http.StatusBadRequest},
	} {
		if code, body := w.do(t, "POST", tc.path, rootTok, jsonBody(tc.e)); code != tc.code {
			t.Errorf("%s: %d %s, want %d", name, code, body, tc.code)
		}
	}
}

// browser is an HTTP client with a cookie jar signed in as one person.
type browser struct {
	t *testing.T
	w *world
	c *http.Client
}

func signedIn(t *testing.T, w *world, name string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, w: w, c: &http.Client{Jar: jar}}
	resp, err := b.c.PostForm(w.srv.URL+"/signin", url.Values{"name": {name}, "password": {"a long password"}, "next": {"/api/me"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s signs in: %d", name, resp.StatusCode)
	}
	return b
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.w.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Request.URL.Path == "/signin" {
		return http.StatusUnauthorized, string(body) // sent to sign in
	}
	return resp.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values) int {
	b.t.Helper()
	resp, err := b.c.PostForm(b.w.srv.URL+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
