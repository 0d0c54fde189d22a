package console

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// world is a console over a fresh store with two alerts (one per unit)
// and people of unit u1.
type world struct {
	srv    *httptest.Server
	st     *store.Store
	tokens map[string]string // name -> API token
	sent   *sentCommands
	alert  int64 // the u1 interruption
	other  int64 // the u2 alert
	links  *alert.Links
	con    *Console
	dir    *people.Directory
	ev     evidence.Store
	key    ed25519.PrivateKey
	data   string
}

var cheap = people.Hasher{Time: 1, MemoryKiB: 64, Threads: 1}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldOn(t, "", "")
}

// newWorldOn is newWorld over the store at dsn in schema (a PostgreSQL
// schema: pgStore); dsn "" is a fresh SQLite file.
func newWorldOn(t *testing.T, dsn, schema string) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	if dsn == "" {
		dsn = filepath.Join(dir, "c.db")
	}
	st, err := store.Open(ctx, dsn, &store.Opts{Logger: log, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ev, err := evidence.OpenFS(filepath.Join(dir, "ev"), log)
	if err != nil {
		t.Fatal(err)
	}
	dirp, err := people.New(st, people.Opts{Hasher: &cheap})
	if err != nil {
		t.Fatal(err)
	}
	sent := &sentCommands{}
	links := &alert.Links{Base: "https://console.example", Key: alert.DeriveLinkKey([]byte("test seed")), TTL: time.Hour}
	_, key, _ := ed25519.GenerateKey(nil)
	cu := &Custody{Evidence: ev, Key: key, ExportDir: filepath.Join(dir, "exports")}
	c, err := New(Opts{Store: st, People: dirp, Footage: ev, Log: log, Commands: sent, Links: links, Custody: cu})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{srv: httptest.NewServer(c.Handler()), st: st, tokens: map[string]string{}, sent: sent, links: links, con: c,
		dir: dirp, ev: ev, key: key, data: dir}
	for d, u := range map[string]string{"dock-1": "u1", "dock-2": "u2"} {
		if err := st.EnrollDock(ctx, d, u, "a-token-of-16-chars"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(w.srv.Close)
	at := time.Date(2026, 11, 30, 22, 14, 0, 0, time.UTC) // 06:14 next day in Shanghai
	for _, a := range []store.Alert{
		{Key: "i/R1/7", Kind: "interruption-unexplained", Severity: "warning", Unit: "u1", Officer: "o-1", Serial: "R1", Seq: 7, Title: "no reason", At: at,
			Evidence: []byte(`{"stop_cause":"low-battery","stop_cause_from":"event-log","events":[{"index":3,"at":"2026-11-30T22:10:00Z","kind":"low-battery","seq":6,"detail":"battery 3%"}]}`)},
		{Key: "b/R9", Kind: "battery-worn", Severity: "warning", Unit: "u2", Serial: "R9", Title: "worn", At: at},
	} {
		if _, err := st.UpsertAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	a, _, _ := st.AlertByKey(ctx, "i/R1/7")
	o, _, _ := st.AlertByKey(ctx, "b/R9")
	w.alert, w.other = a.ID, o.ID
	for name, role := range map[string]string{"chief": people.RoleSupervisor, "aux": people.RoleAuxiliary, "keeper": people.RoleCustodian} {
		if err := dirp.Add(ctx, store.Person{Name: name, Role: role, Units: []string{"u1"}}, "a long password", "test"); err != nil {
			t.Fatal(err)
		}
		if w.tokens[name], err = dirp.IssueToken(ctx, name, "test", 0); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) do(t *testing.T, method, path, token string, body io.Reader, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, w.srv.URL+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPI(t *testing.T) {
	w := newWorld(t)
	id := func(n int64) string { return strings.TrimSpace(string(must(json.Marshal(n)))) }
	for _, tc := range []struct {
		name, method, path, who, body string
		code                          int
		want                          string
	}{
		{"openapi", "GET", "/api/openapi.json", "", "", 200, `"openapi": "3.1.0"`},
		{"anonymous", "GET", "/api/alerts", "", "", 401, "sign in"},
		{"bad token", "GET", "/api/alerts", "berth_nope", "", 401, "sign in"},
		{"me", "GET", "/api/me", "chief", "", 200, `"role": "supervisor"`},
		{"inbox is scoped", "GET", "/api/alerts", "chief", "", 200, `"key": "i/R1/7"`},
		{"other unit's alert is hidden", "GET", "/api/alerts/" + id(w.other), "chief", "", 404, "no alert"},
		{"alert view", "GET", "/api/alerts/" + id(w.alert), "aux", "", 200, `"can": [
    "explain"
  ]`},
		{"bad filter date", "GET", "/api/alerts?from=yesterday", "chief", "", 400, "YYYY-MM-DD"},
		{"auxiliary may not close footage alerts", "POST", "/api/alerts/" + id(w.alert) + "/close", "aux", `{}`, 403, "supervisor"},
		{"auxiliary may not acknowledge them", "POST", "/api/alerts/" + id(w.alert) + "/acknowledge", "aux", `{"comment":"x"}`, 403, "supervisor"},
		{"acknowledgement needs the explanation", "POST", "/api/alerts/" + id(w.alert) + "/acknowledge", "chief", `{"comment":" "}`, 400, "explanation"},
		{"supervisor acknowledges", "POST", "/api/alerts/" + id(w.alert) + "/acknowledge", "chief", `{"comment":"radio report"}`, 200, `"state": "acknowledged"`},
		{"auxiliary explains", "POST", "/api/alerts/" + id(w.alert) + "/explain", "aux", `{"comment":"damaged"}`, 200, `"by": "aux"`},
		{"custodian fleet", "GET", "/api/recorders", "keeper", "", 200, `"recorders": []`},
		{"auxiliary clip refused", "GET", "/alerts/" + id(w.alert) + "/clip", "aux", "", 403, "may not view footage"},
		{"custodian power-cycles a slot of their unit", "POST", "/api/docks/dock-1/slots/2/power-cycle", "keeper", `{}`, 200, `"by": "keeper"`},
		{"not a dock of their unit", "POST", "/api/docks/dock-2/slots/0/power-cycle", "keeper", `{}`, 404, "no dock"},
		{"compliance of their unit", "GET", "/api/compliance?unit=u1&week=2026-W49", "chief", "", 200, `"officer": "o-1"`},
		{"compliance: not their unit", "GET", "/api/compliance?unit=u2&week=2026-W49", "chief", "", 404, "no unit u2"},
		{"compliance: bad week", "GET", "/api/compliance?unit=u1&week=49", "chief", "", 400, "2026-W48"},
		{"compliance: not for custodians", "GET", "/api/compliance?unit=u1&week=2026-W49", "keeper", "", 403, "no compliance"},
		{"clip not yet in storage", "GET", "/alerts/" + id(w.alert) + "/clip", "chief", "", 404, "not in the evidence store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			code, got := w.do(t, tc.method, tc.path, w.tokens[tc.who]+map[bool]string{true: tc.who}[tc.who != "" && w.tokens[tc.who] == ""], body)
			if code != tc.code || !strings.Contains(got, tc.want) {
				t.Errorf("%s %s as %q: %d %s; want %d containing %q", tc.method, tc.path, tc.who, code, got, tc.code, tc.want)
			}
		})
	}
	hist, _ := w.st.AlertHistory(context.Background(), w.alert)
	if len(hist) != 2 || hist[0].By != "chief" || hist[0].Role != "supervisor" || hist[1].By != "aux" {
		t.Errorf("history %+v", hist)
	}
	if got := strings.Join(w.sent.cmds, "; "); got != "dock-1 power-cycle 2 by keeper" {
		t.Errorf("commands sent: %q", got)
	}
	acc, _ := w.st.FootageAccesses(context.Background(), "", 0)
	if len(acc) != 1 || acc[0].Viewer != "aux" || acc[0].Granted {
		t.Errorf("footage access log %+v, want the auxiliary's refusal", acc)
	}
}

// sentCommands records the commands the console sends.
type sentCommands struct {
	mu   sync.Mutex
	cmds []string
}

func (s *sentCommands) SendCommand(_ context.Context, dock string, cmd wire.Command) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmds = append(s.cmds, fmt.Sprintf("%s %s %d by %s", dock, cmd.Action, cmd.Slot, cmd.By))
	return "msg-1", nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestBrowserSession: sign-in sets an HttpOnly cookie; a form without the
// session's CSRF token and a cross-origin post are refused; pages are
// Chinese by default, English on request, with times in Asia/Shanghai.
func TestBrowserSession(t *testing.T) {
	w := newWorld(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(w.srv.URL+"/signin", url.Values{"name": {"chief"}, "password": {"wrong password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	resp, err = c.PostForm(w.srv.URL+"/signin", url.Values{"name": {"chief"}, "password": {"a long password"}, "next": {"/inbox"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"告警收件箱", "录像中断后恢复，未说明原因", "2026-12-01 06:14:00 CST", "Asia/Shanghai"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("inbox lacks %q", want)
		}
	}
	for _, ck := range resp.Request.Response.Cookies() {
		if ck.Name == sessionCookie && !ck.HttpOnly {
			t.Error("the session cookie is not HttpOnly")
		}
	}
	alertPath := "/alerts/" + strings.TrimSpace(string(must(json.Marshal(w.alert))))
	resp, _ = c.Get(w.srv.URL + alertPath)
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(page))
	if csrf == nil || !strings.Contains(string(page), "<svg") {
		t.Fatalf("alert page without CSRF token or timeline:\n%s", page)
	}
	if !strings.Contains(string(page), `id="device-log"`) || !strings.Contains(string(page), "battery 3%") {
		t.Errorf("alert page does not list the recorder's events near the gap")
	}
	post := func(form url.Values, hdr ...string) int {
		req, _ := http.NewRequest("POST", w.srv.URL+alertPath+"/act", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(url.Values{"action": {"close"}}); code != http.StatusForbidden {
		t.Errorf("a form without the CSRF token: %d, want 403", code)
	}
	if code := post(url.Values{"action": {"close"}, "csrf": csrf[1:2]}, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("a cross-site form: %d, want 403", code)
	}
	if a, _, _ := w.st.AlertByID(context.Background(), w.alert); a.State != store.AlertOpen {
		t.Fatalf("a refused form changed the alert: %s", a.State)
	}
	if code := post(url.Values{"action": {"close"}, "csrf": csrf[1:2]}); code != http.StatusOK {
		t.Errorf("the supervisor's close: %d", code)
	}
	if a, _, _ := w.st.AlertByID(context.Background(), w.alert); a.State != store.AlertClosed || a.ClosedBy != "chief" {
		t.Errorf("after closing: %+v", a)
	}
	resp, _ = c.Get(w.srv.URL + "/lang/en?back=/inbox")
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Alert inbox") {
		t.Error("the English switch did not switch")
	}
	resp, _ = c.Get(w.srv.URL + "/lang/en?back=//evil.example/")
	resp.Body.Close()
	if resp.Request.URL.Host != strings.TrimPrefix(w.srv.URL, "http://") {
		t.Errorf("the language switch redirected off-site to %s", resp.Request.URL)
	}
}
