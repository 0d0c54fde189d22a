package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/console/api"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
)

// routeCall is one request a role matrix makes to a route.
type routeCall struct {
	method, path string
	body         string // a JSON body for /api/, else a form
	// ok is the roles (of aux, keeper, cop, all of unit u1) that may do
	// it; every other one must be refused (403 or 404).
	ok []string
}

// routeKey names a route as the handler's source registers it:
// "METHOD PATTERN", with "*" for a part added in code (a loop's action).
var routeKey = regexp.MustCompile(`(?:HandleFunc|Handle)\("([A-Z]+ [^"]*)"(\s*\+\s*[\w.]+)?`)

// consoleRoutes lists every route registered in the package's source.
func consoleRoutes(t *testing.T) []string {
	t.Helper()
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range routeKey.FindAllStringSubmatch(string(b), -1) {
			k := m[1]
			if m[2] != "" {
				k += "*"
			}
			out = append(out, k)
		}
	}
	return out
}

// TestRouteRoleMatrix tries every route of the console and its API as an
// auxiliary, a custodian and an officer of unit u1 (API tokens, so no
// CSRF is involved): each gets exactly what its role allows, and never
// footage, a segment's page, an export, the access log, a hold, a case
// link, a footage alert's acknowledgement or closing, nor another unit's
// dock. A route added to the source without a line here fails the test,
// so the matrix stays complete.
func TestRouteRoleMatrix(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.dir.Add(ctx, store.Person{Name: "chief2", Role: people.RoleSupervisor, Units: []string{"u1"}}, "a long password", "test"); err != nil {
		t.Fatal(err)
	}
	if err := w.dir.Add(ctx, store.Person{Name: "cop", Role: people.RoleOfficer, Units: []string{"u1"}}, "a long password", "test"); err != nil {
		t.Fatal(err)
	}
	var err error
	for _, n := range []string{"chief2", "cop"} {
		if w.tokens[n], err = w.dir.IssueToken(ctx, n, "test", 0); err != nil {
			t.Fatal(err)
		}
	}
	obj := w.footage(t, "dock-1", "R1", 7, "o-1", "CASE-1", bytes.Repeat([]byte("footage!"), 512))
	w.footage(t, "dock-2", "R9", 1, "o-9", "CASE-9", []byte("unit u2's footage"))
	// An export of u1, approved and packaged, for the download routes.
	code, body := w.do(t, "POST", "/api/exports", w.tokens["chief"], jsonBody(map[string]any{"items": []any{map[string]any{"serial": "R1", "seq": 7}},
		"recipient": "court", "purpose": "trial"}))
	var ex api.Export
	if json.Unmarshal([]byte(body), &ex); code != 200 {
		t.Fatalf("export: %d %s", code, body)
	}
	e := fmt.Sprint(ex.ID)
	if code, body := w.do(t, "POST", "/api/exports/"+e+"/approve", w.tokens["chief2"], jsonBody(map[string]string{"reason": "ok"})); code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}
	if code, body := w.do(t, "POST", "/api/exports/"+e+"/package", w.tokens["chief"], nil); code != 200 {
		t.Fatalf("package: %d %s", code, body)
	}
	a, o := fmt.Sprint(w.alert), fmt.Sprint(w.other)
	fleet := []string{"aux", "keeper"} // CanSeeFleet and CanSeeAlerts
	all := []string{"aux", "keeper", "cop"}
	none := []string{}
	export := `{"items":[{"serial":"R1","seq":7}],"recipient":"press","purpose":"leak"}`
	matrix := map[string][]routeCall{
		"GET /static/":              nil, // public files
		"GET /{$}":                  nil, // a redirect by role
		"GET /signin":               nil,
		"POST /signin":              nil,
		"POST /signout":             nil, // TestCSRFEveryForm
		"GET /lang/{lang}":          nil,
		"GET *":                     nil, // the signed alert link (TestAlertLinks): a redirect to the signed-in page
		"GET /signin/oidc":          nil,
		"GET /signin/oidc/callback": nil,
		"GET /api/openapi.json":     nil,
		"GET /inbox":                {{method: "GET", path: "/inbox", ok: fleet}},
		"GET /alerts/{id}":          {{method: "GET", path: "/alerts/" + a, ok: fleet}, {method: "GET", path: "/alerts/" + o, ok: none}},
		"POST /alerts/{id}/act":     {{method: "POST", path: "/alerts/" + a + "/act", body: "action=close", ok: none}, {method: "POST", path: "/alerts/" + a + "/act", body: "action=acknowledge&comment=seen", ok: none}, {method: "POST", path: "/alerts/" + o + "/act", body: "action=close", ok: none}},
		"GET /alerts/{id}/clip":     {{method: "GET", path: "/alerts/" + a + "/clip", ok: none}},
		"GET /fleet":                {{method: "GET", path: "/fleet", ok: fleet}, {method: "GET", path: "/fleet?unit=u2", ok: none}},
		"GET /fleet/recorders.csv":  {{method: "GET", path: "/fleet/recorders.csv", ok: fleet}},
		"GET /fleet/docks.csv":      {{method: "GET", path: "/fleet/docks.csv", ok: fleet}},
		"POST /fleet/docks/{dock}/slots/{slot}/power-cycle": {{method: "POST", path: "/fleet/docks/dock-1/slots/1/power-cycle", ok: fleet},
			{method: "POST", path: "/fleet/docks/dock-2/slots/1/power-cycle", ok: none}},
		"GET /api/me":          {{method: "GET", path: "/api/me", ok: all}},
		"GET /api/alerts":      {{method: "GET", path: "/api/alerts", ok: fleet}},
		"GET /api/alerts/{id}": {{method: "GET", path: "/api/alerts/" + a, ok: fleet}, {method: "GET", path: "/api/alerts/" + o, ok: none}},
		"POST /api/alerts/{id}/*": {{method: "POST", path: "/api/alerts/" + a + "/acknowledge", body: `{"comment":"seen"}`, ok: none},
			{method: "POST", path: "/api/alerts/" + a + "/close", body: `{"comment":"done"}`, ok: none},
			{method: "POST", path: "/api/alerts/" + a + "/explain", body: `{"comment":"the battery"}`, ok: fleet},
			{method: "POST", path: "/api/alerts/" + o + "/close", body: `{"comment":"x"}`, ok: none}},
		"GET /api/recorders": {{method: "GET", path: "/api/recorders", ok: fleet}},
		"POST /api/docks/{dock}/slots/{slot}/power-cycle": {{method: "POST", path: "/api/docks/dock-1/slots/2/power-cycle", ok: fleet},
			{method: "POST", path: "/api/docks/dock-2/slots/2/power-cycle", ok: none}},
		"GET /api/compliance":                        {{method: "GET", path: "/api/compliance?unit=u1&week=2026-W48", ok: none}},
		"POST /api/recorders/{serial}/holes/release": {{method: "POST", path: "/api/recorders/R1/holes/release", body: `{"reason":"lost"}`, ok: none}},
		"GET /api/docks":                             {{method: "GET", path: "/api/docks", ok: fleet}},
		"GET /evidence":                              {{method: "GET", path: "/evidence", ok: none}, {method: "GET", path: "/evidence?search=1&case=CASE-1", ok: none}},
		"GET /evidence/{serial}/{seq}":               {{method: "GET", path: "/evidence/R1/7", ok: none}},
		"GET /evidence/{serial}/{seq}/clip":          {{method: "GET", path: "/evidence/R1/7/clip", ok: none}, {method: "GET", path: "/evidence/R9/1/clip", ok: none}},
		"POST /evidence/{serial}/{seq}/act": {{method: "POST", path: "/evidence/R1/7/act", body: "action=hold&reason=mine", ok: none},
			{method: "POST", path: "/evidence/R1/7/act", body: "action=link&case=C-9&reason=mine", ok: []string{"cop"}}}, // officers link cases (store linkRoles)
		"POST /evidence/export": {{method: "POST", path: "/evidence/export", body: "item=R1/7&recipient=press&purpose=leak", ok: []string{"cop"}},
			{method: "POST", path: "/evidence/export", body: "item=R9/1&recipient=press&purpose=leak", ok: none}},
		"GET /exports":                     {{method: "GET", path: "/exports", ok: []string{"cop"}}},
		"POST /exports/{id}/act":           {{method: "POST", path: "/exports/" + e + "/act", body: "action=package", ok: none}, {method: "POST", path: "/exports/" + e + "/act", body: "action=approve&reason=x", ok: none}},
		"GET /exports/{id}/package.zip":    {{method: "GET", path: "/exports/" + e + "/package.zip", ok: none}},
		"GET /api/evidence":                {{method: "GET", path: "/api/evidence?case=CASE-1", ok: none}},
		"GET /api/evidence/{serial}/{seq}": {{method: "GET", path: "/api/evidence/R1/7", ok: none}},
		"POST /api/evidence/{serial}/{seq}/links": {{method: "POST", path: "/api/evidence/R1/7/links", body: `{"case":"C-9","reason":"mine"}`, ok: []string{"cop"}},
			{method: "POST", path: "/api/evidence/R9/1/links", body: `{"case":"C-9","reason":"mine"}`, ok: none}},
		"POST /api/evidence/{serial}/{seq}/*": {{method: "POST", path: "/api/evidence/R1/7/hold", body: `{"reason":"mine"}`, ok: none},
			{method: "POST", path: "/api/evidence/R1/7/lift-hold", body: `{"reason":"mine"}`, ok: none}},
		"GET /api/evidence/{serial}/{seq}/holds": {{method: "GET", path: "/api/evidence/R1/7/holds", ok: none}},
		"GET /api/exports":                       {{method: "GET", path: "/api/exports", ok: []string{"cop"}}},
		"POST /api/exports": {{method: "POST", path: "/api/exports", body: export, ok: []string{"cop"}},
			{method: "POST", path: "/api/exports", body: `{"items":[{"serial":"R9","seq":1}],"recipient":"press","purpose":"leak"}`, ok: none}},
		"GET /api/exports/{id}":             {{method: "GET", path: "/api/exports/" + e, ok: none}},
		"POST /api/exports/{id}/*":          {{method: "POST", path: "/api/exports/" + e + "/refuse", body: `{"reason":"x"}`, ok: none}},
		"POST /api/exports/{id}/package":    {{method: "POST", path: "/api/exports/" + e + "/package", ok: none}},
		"GET /api/exports/{id}/package.zip": {{method: "GET", path: "/api/exports/" + e + "/package.zip", ok: none}},
		"GET /api/access":                   {{method: "GET", path: "/api/access", ok: none}, {method: "GET", path: "/api/access?unit=u1", ok: none}},
		"GET /admin/people/{name}":          {{method: "GET", path: "/admin/people/chief", ok: none}},
		"POST /admin/people/{name}":         {{method: "POST", path: "/admin/people/aux", body: "role=supervisor&units=u1,u2", ok: none}},
		"GET /api/people/{name}":            {{method: "GET", path: "/api/people/chief", ok: none}},
		"POST /api/people/{name}":           {{method: "POST", path: "/api/people/aux", body: `{"role":"supervisor","units":["u1","u2"]}`, ok: none}},
		"GET /admin":                        {{method: "GET", path: "/admin", ok: none}},
		"POST /admin/people":                {{method: "POST", path: "/admin/people", body: "name=mole&role=supervisor&units=u1&password=a+long+password", ok: none}},
		"GET /api/admin/registry":           {{method: "GET", path: "/api/admin/registry", ok: none}},
		"POST /api/people":                  {{method: "POST", path: "/api/people", body: `{"name":"mole","role":"admin","password":"a long password"}`, ok: none}},
	}
	routes := consoleRoutes(t)
	if len(routes) < 50 {
		t.Fatalf("found only %d routes in the source: %v", len(routes), routes)
	}
	for _, k := range routes {
		if _, ok := matrix[k]; !ok {
			t.Errorf("route %q is not in the role matrix: add what each role may do with it", k)
		}
	}
	for k := range matrix {
		if !slices.Contains(routes, k) {
			t.Errorf("the matrix names %q, which the source does not register", k)
		}
	}
	access := func() []store.FootageAccess {
		as, err := w.st.AccessLog(ctx, store.AccessQuery{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	exportsBefore, err := w.st.Exports(ctx, store.ExportFilter{})
	if err != nil {
		t.Fatal(err)
	}
	refusedBefore := w.con.refused.Load()
	refusals := 0
	for _, k := range routes {
		for _, c := range matrix[k] {
			for _, who := range all {
				var hdr []string
				var rd io.Reader
				if c.body != "" {
					rd = strings.NewReader(c.body)
					if strings.HasPrefix(c.path, "/api/") {
						hdr = []string{"Content-Type", "application/json"}
					} else {
						hdr = []string{"Content-Type", "application/x-www-form-urlencoded"}
					}
				}
				code, body := w.do(t, c.method, c.path, w.tokens[who], rd, hdr...)
				allowed := slices.Contains(c.ok, who)
				switch {
				case allowed && (code < 200 || code >= 400):
					t.Errorf("%s %s as %s: %d, want it allowed: %.200s", c.method, c.path, who, code, body)
				case !allowed && code != http.StatusForbidden && code != http.StatusNotFound:
					t.Errorf("%s %s as %s: %d, want 403 or 404: %.200s", c.method, c.path, who, code, body)
				case !allowed:
					refusals++
					if strings.Contains(body, "footage!") || strings.Contains(body, obj) {
						t.Errorf("%s %s as %s: the refusal shows footage or its object", c.method, c.path, who)
					}
				}
			}
		}
	}
	// Every refusal is counted (fail counts 403s and 401s; a 404 is "as
	// if it did not exist", so at least the 403s).
	if w.con.refused.Load() == refusedBefore {
		t.Error("no refusal counted")
	}
	// Nothing footage-related changed, and no one but supervisors was
	// granted footage.
	for _, x := range access() {
		if x.Granted && !strings.HasPrefix(x.Viewer, "chief") && !(x.Viewer == "cop" && x.Action == "export-requested") {
			t.Errorf("access log grants %s (%s) %s of %s", x.Viewer, x.Role, x.Action, x.ObjectID)
		}
	}
	if hs, _ := w.st.Holds(ctx, obj); len(hs) != 0 {
		t.Errorf("holds set: %+v", hs)
	}
	ls, _ := w.st.CaseLinks(ctx, "R1", 7)
	for _, l := range ls {
		if l.By.Name != "cop" {
			t.Errorf("case link by %s", l.By.Name)
		}
	}
	if len(ls) != 2 { // the officer's, by form and by API
		t.Errorf("case links made: %+v", ls)
	}
	if ls, _ := w.st.CaseLinks(ctx, "R9", 1); len(ls) != 0 {
		t.Errorf("case links on unit u2's footage: %+v", ls)
	}
	if al, _, _ := w.st.AlertByID(ctx, w.alert); al.State != store.AlertOpen {
		t.Errorf("the footage alert is %s", al.State)
	}
	if al, _, _ := w.st.AlertByID(ctx, w.other); al.State != store.AlertOpen {
		t.Errorf("unit u2's alert is %s", al.State)
	}
	exportsAfter, _ := w.st.Exports(ctx, store.ExportFilter{})
	if len(exportsAfter) != len(exportsBefore)+2 { // the officer's two requests
		t.Errorf("%d exports, want %d", len(exportsAfter), len(exportsBefore)+2)
	}
	for _, x := range exportsAfter {
		if x.ID == ex.ID && x.State() != store.ExportPackaged {
			t.Errorf("export %d is %s", x.ID, x.State())
		}
		if x.ID != ex.ID && (x.By.Name != "cop" || x.Unit != "u1" || x.State() != store.ExportRequested) {
			t.Errorf("export %+v", x)
		}
	}
	for _, n := range []string{"aux", "keeper", "cop"} {
		p, _, _ := w.st.PersonByName(ctx, n)
		if p.Role == people.RoleSupervisor || slices.Contains(p.Units, "u2") {
			t.Errorf("%s raised themselves: %+v", n, p)
		}
	}
	if _, ok, _ := w.st.PersonByName(ctx, "mole"); ok {
		t.Error("a person was added")
	}
	w.sent.mu.Lock()
	defer w.sent.mu.Unlock()
	for _, c := range w.sent.cmds {
		if strings.HasPrefix(c, "dock-2") {
			t.Errorf("a command went to unit u2's dock: %s", c)
		}
	}
	if len(w.sent.cmds) != 4 { // aux and keeper, page and API, dock-1
		t.Errorf("commands sent: %v", w.sent.cmds)
	}
	t.Logf("%d routes, %d refusals", len(routes), refusals)
}

// TestCSRFEveryForm: a signed-in browser session's POST without the
// session's CSRF token is refused on every state-changing route (forms
// and the API alike, whatever the body's type) before anything happens,
// and the session survives a forged sign-out.
func TestCSRFEveryForm(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.footage(t, "dock-1", "R1", 7, "o-1", "CASE-1", []byte("footage"))
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(w.srv.URL+"/signin", url.Values{"name": {"chief"}, "password": {"a long password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	a := fmt.Sprint(w.alert)
	var posts []string
	for _, k := range consoleRoutes(t) {
		if strings.HasPrefix(k, "POST ") && k != "POST /signin" {
			posts = append(posts, k)
		}
	}
	fill := strings.NewReplacer("{id}", a, "{dock}", "dock-1", "{slot}", "1", "{serial}", "R1", "{seq}", "7", "{name}", "aux")
	star := map[string]string{"POST /api/alerts/{id}/*": "close", "POST /api/evidence/{serial}/{seq}/*": "hold", "POST /api/exports/{id}/*": "approve"}
	for _, k := range posts {
		path := fill.Replace(strings.TrimPrefix(strings.TrimSuffix(k, "*"), "POST "))
		if strings.HasSuffix(k, "*") {
			if star[k] == "" {
				t.Fatalf("no action for %s", k)
			}
			path += star[k]
		}
		if strings.HasPrefix(path, "/exports/") || strings.HasPrefix(path, "/api/exports/") {
			path = strings.Replace(path, "/"+a+"/", "/1/", 1)
		}
		for _, body := range []struct{ typ, body string }{
			{"application/x-www-form-urlencoded", "action=close&comment=x&reason=x&role=admin"},
			{"application/json", `{"comment":"x","reason":"x"}`},
			{"text/plain", `{"comment":"x","reason":"x"}`},
		} {
			req, _ := http.NewRequest("POST", w.srv.URL+path, strings.NewReader(body.body))
			req.Header.Set("Content-Type", body.typ)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "CSRF") {
				t.Errorf("POST %s (%s) without the CSRF token: %d %.120s", path, body.typ, resp.StatusCode, b)
			}
		}
	}
	if al, _, _ := w.st.AlertByID(ctx, w.alert); al.State != store.AlertOpen {
		t.Errorf("a form without the token changed the alert: %s", al.State)
	}
	if hist, _ := w.st.AlertHistory(ctx, w.alert); len(hist) != 0 {
		t.Errorf("alert history written: %+v", hist)
	}
	if len(w.sent.cmds) != 0 {
		t.Errorf("commands sent: %v", w.sent.cmds)
	}
	if p, _, _ := w.st.PersonByName(ctx, "aux"); p.Role != people.RoleAuxiliary {
		t.Errorf("aux edited: %+v", p)
	}
	// Still signed in: the session was not ended by a forged sign-out.
	resp, err = c.Get(w.srv.URL + "/inbox")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the forged posts the session is gone: %d", resp.StatusCode)
	}
	t.Logf("%d POST routes refused without the token", len(posts))
}

// TestAlertClipFollowsFootageUnit: the clip of an alert is served by the
// footage's unit, as on the evidence pages, not by the unit the alert was
// sent to. An alert of unit u2 can name footage of unit u1: the upload
// endpoint sends a receipt conflict about a recorder that is not enrolled
// to the unit of the dock that made the conflicting claim, so a dock of
// u2 that claims u1's segment RX/7 with other bytes puts RX/7 in u2's
// inbox. u2's supervisor sees the alert, but neither the clip nor a link
// to it; the refusal is in the access log; u1's supervisor still plays it.
func TestAlertClipFollowsFootageUnit(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.dir.Add(ctx, store.Person{Name: "chief-u2", Role: people.RoleSupervisor, Units: []string{"u2"}}, "a long password", "test"); err != nil {
		t.Fatal(err)
	}
	tokU2, err := w.dir.IssueToken(ctx, "chief-u2", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	clip := bytes.Repeat([]byte("unit u1's footage "), 64)
	obj := w.footage(t, "dock-1", "RX", 7, "o-1", "", clip) // RX is not enrolled: its footage is dock-1's unit's
	a := store.Alert{Key: "receipt-conflict/RX/7/x", Kind: store.KindReceiptConflict, Severity: "critical", Unit: "u2", Serial: "RX", Seq: 7,
		Dock: "dock-2", Title: "Recorder RX segment 7: two different recordings claim one sequence number", At: time.Now()}
	if _, err := w.st.UpsertAlert(ctx, a); err != nil {
		t.Fatal(err)
	}
	a, _, _ = w.st.AlertByKey(ctx, a.Key)
	id := fmt.Sprint(a.ID)
	if code, body := w.do(t, "GET", "/api/alerts/"+id, tokU2, nil); code != 200 || strings.Contains(body, "clip_url") {
		t.Errorf("u2's alert view: %d %s", code, body)
	}
	code, body := w.do(t, "GET", "/alerts/"+id+"/clip", tokU2, nil)
	if code != http.StatusNotFound || strings.Contains(body, "unit u1's footage") {
		t.Errorf("u2's supervisor played u1's footage through u2's alert: %d (%d bytes)", code, len(body))
	}
	as, err := w.st.AccessLog(ctx, store.AccessQuery{Viewer: "chief-u2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || as[0].Granted {
		t.Errorf("access log of chief-u2: %+v", as)
	}
	// The footage's own unit plays it, from its evidence page.
	if code, body := w.do(t, "GET", "/evidence/RX/7/clip", w.tokens["chief"], nil); code != 200 || body != string(clip) {
		t.Errorf("u1's supervisor: %d", code)
	}
	if hs, _ := w.st.Holds(ctx, obj); len(hs) != 0 {
		t.Errorf("holds %+v", hs)
	}
}

// TestRedirectsStayOnSite: the places the console sends a browser after
// sign-in or a language switch stay on this site, however the path is
// dressed (a browser strips tabs and line breaks from a Location, so
// "/\t/evil" would lead to //evil).
func TestRedirectsStayOnSite(t *testing.T) {
	w := newWorld(t)
	// The transport, not a client: a client refuses to read such a
	// Location at all, a browser reads it after cleaning.
	send := func(req *http.Request) *http.Response {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// What a browser does to a Location before resolving it.
	browser := strings.NewReplacer("\t", "", "\n", "", "\r", "")
	names := []string{"chief", "aux", "keeper"} // sign-ins are throttled per name
	for i, next := range []string{"//evil.example/", "/\t/evil.example/", "/\n/evil.example/", "/\r\n/evil.example/", `/\evil.example/`,
		"https://evil.example/", "/%09/evil.example/"} {
		lang, _ := http.NewRequest("GET", w.srv.URL+"/lang/en?back="+url.QueryEscape(next), nil)
		form := url.Values{"name": {names[i%len(names)]}, "password": {"a long password"}, "next": {next}}
		signin, _ := http.NewRequest("POST", w.srv.URL+"/signin", strings.NewReader(form.Encode()))
		signin.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, req := range []*http.Request{lang, signin} {
			resp := send(req)
			loc := browser.Replace(resp.Header.Get("Location"))
			u, err := url.Parse(loc)
			if resp.StatusCode != http.StatusSeeOther || err != nil || u.Host != "" || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) {
				t.Errorf("%s with next %q: %d to %q", req.URL.Path, next, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
}
