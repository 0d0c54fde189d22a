// Package console is the collector's web console and JSON API: the
// supervisor's alert inbox and alert page (the recorder's day as a
// server-drawn SVG timeline, the resumed recording in an HTML5 player, the
// acknowledgement with its written explanation and the alert's append-only
// history), the custodian's fleet (recorders due for maintenance first,
// docks and their slots, CSV exports), sign-in, and the same data as JSON
// under /api with an OpenAPI 3.1 description at /api/openapi.json.
//
// Pages are rendered on the server with html/template in zh-CN (English on
// request) with times in the agency's zone; a little plain JavaScript is
// embedded, nothing is fetched from elsewhere, so the console works on an
// isolated network. Who is calling comes from package people (a session
// cookie, or an API token as a bearer); what they may do is people's
// Principal; what they did goes to the store (alert history, footage
// access log) before the answer.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/health"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Footage is the evidence store as the console reads it.
type Footage interface {
	Stat(ctx context.Context, id string) (evidence.Object, error)
	Open(ctx context.Context, id string) (evidence.Reader, error)
}

// Commands sends commands to docks (the collector's MQTT command topic).
type Commands interface {
	SendCommand(ctx context.Context, dock string, cmd wire.Command) (string, error)
}

// Opts configure a Console.
type Opts struct {
	Store   *store.Store
	People  *people.Directory
	Footage Footage
	// Commands, if set, lets custodians power-cycle a slot from the fleet
	// page and the API; the command names who issued it.
	Commands Commands
	Log      *slog.Logger
	Clock    clockwork.Clock // default the real clock
	// Location is the agency's time zone for every time shown (default
	// Asia/Shanghai).
	Location *time.Location
	// Health is the fleet policy the pull list is judged by.
	Health health.Thresholds
	// OfflineAfter is how long a silent dock still counts as online
	// (default 10 min, as the analysis engine's).
	OfflineAfter time.Duration
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// (behind a TLS-terminating proxy); it is always Secure over TLS.
	SecureCookies bool
	// OpeningWindow is how much of the resumed recording the player
	// plays first (default 30 s, the policy's opening window).
	OpeningWindow time.Duration
	// Links checks the signed links alert deliveries carry to alert
	// pages (GET /alerts/link); nil: such links are refused.
	Links *alert.Links
	// OIDC, if set, offers sign-in with the agency's identity provider
	// beside the password (oidc.go).
	OIDC *people.OIDC
	// Custody, if set, serves evidence search, play, case links, holds,
	// exports and the access log (evidence_routes.go); nil: those
	// actions answer 503.
	Custody *Custody
}

// Console serves the pages and the API.
type Console struct {
	o     Opts
	pages map[string]*template.Template
	// refused counts requests refused for want of a sign-in or a role.
	refused atomic.Int64
	// linksRefused counts alert links refused (links.go).
	linksRefused atomic.Int64
	// fleetWhole is the largest fleet judged whole (fleet.go);
	// registryPage the docks and recorders the registry lists at a
	// time (admin.go).
	fleetWhole, registryPage int
	// oidcRefused counts OIDC sign-ins refused (oidc.go).
	oidcRefused atomic.Int64
}

// Cookie names.
const (
	sessionCookie = "berth_session"
	langCookie    = "berth_lang"
)

// New parses the templates.
func New(o Opts) (*Console, error) {
	if o.Store == nil || o.People == nil || o.Footage == nil {
		return nil, errors.New("console: a store, a people directory and the footage are required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			return nil, fmt.Errorf("console: time zone: %w", err)
		}
		o.Location = loc
	}
	if o.Health == (health.Thresholds{}) {
		o.Health = health.DefaultThresholds()
	}
	if o.OfflineAfter <= 0 {
		o.OfflineAfter = 10 * time.Minute
	}
	if o.OpeningWindow <= 0 {
		o.OpeningWindow = 30 * time.Second
	}
	c := &Console{o: o, pages: map[string]*template.Template{}, fleetWhole: fleetWhole, registryPage: registryPage}
	for _, p := range []string{"signin", "inbox", "alert", "fleet", "message", "evidence", "segment", "exports", "admin", "person"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", p, err)
		}
		c.pages[p] = t
	}
	return c, nil
}

// Handler is the console and its API; the collector mounts it at "/".
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", c.home)
	mux.HandleFunc("GET /signin", c.signinPage)
	mux.HandleFunc("POST /signin", c.signin)
	mux.HandleFunc("POST /signout", c.signout)
	mux.HandleFunc("GET /lang/{lang}", c.setLang)
	mux.HandleFunc("GET /inbox", c.page(c.inbox))
	mux.HandleFunc("GET "+alert.LinkPath, c.alertLink)
	mux.HandleFunc("GET /alerts/{id}", c.page(c.alertPage))
	mux.HandleFunc("POST /alerts/{id}/act", c.page(c.alertAct))
	mux.HandleFunc("GET /alerts/{id}/clip", c.page(c.clip))
	mux.HandleFunc("GET /fleet", c.page(c.fleet))
	mux.HandleFunc("GET /fleet/recorders.csv", c.page(c.recordersCSV))
	mux.HandleFunc("GET /fleet/docks.csv", c.page(c.docksCSV))
	mux.HandleFunc("POST /fleet/docks/{dock}/slots/{slot}/power-cycle", c.page(func(r *request) error {
		if err := c.powerCycle(r); err != nil {
			return err
		}
		http.Redirect(r.w, r.Request, "/fleet#docks", http.StatusSeeOther)
		return nil
	}))
	c.api(mux)
	c.evidenceRoutes(mux)
	c.adminRoutes(mux)
	c.oidcRoutes(mux)
	// Cross-origin state changes are refused (Sec-Fetch-Site / Origin);
	// forms also carry the session's CSRF token (checked in page).
	return http.NewCrossOriginProtection().Handler(securityHeaders(mux))
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; media-src 'self'; frame-ancestors 'none'")
		h.ServeHTTP(w, r)
	})
}

// request is one authenticated request.
type request struct {
	*http.Request
	w    http.ResponseWriter
	who  people.Principal
	csrf string // the session's token ("" for a bearer token)
	lang string
	ctx  context.Context
}

// who resolves the caller: a bearer API token, else the session cookie.
func (c *Console) who(r *http.Request) (people.Principal, string, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		p, err := c.o.People.FromToken(r.Context(), strings.TrimSpace(tok))
		return p, "", err
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return people.Principal{}, "", people.ErrUnknown
	}
	s, err := c.o.People.FromCookie(r.Context(), ck.Value)
	return s.Who, s.CSRF, err
}

// page wraps a page handler: it demands a sign-in (else to /signin) and,
// for state changes from a browser, the session's CSRF token.
func (c *Console) page(h func(*request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		r = r.WithContext(ctx)
		who, csrf, err := c.who(r)
		if err != nil {
			if !errors.Is(err, people.ErrUnknown) {
				c.o.Log.Error("console: who is calling", "err", err)
				http.Error(w, "store unavailable", http.StatusServiceUnavailable)
				return
			}
			c.refused.Add(1)
			if r.Method == http.MethodGet && r.Header.Get("Authorization") == "" && !strings.HasPrefix(r.URL.Path, "/api/") {
				http.Redirect(w, r, "/signin?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "sign in first, or send an API token as a bearer"})
			return
		}
		if r.Method == http.MethodPost && csrf != "" && !constantEq(r.FormValue("csrf"), csrf) {
			c.refused.Add(1)
			http.Error(w, "the form is stale (CSRF token): reload the page", http.StatusForbidden)
			return
		}
		req := &request{Request: r, w: w, who: who, csrf: csrf, lang: langOf(r), ctx: ctx}
		if err := h(req); err != nil {
			c.fail(req, err)
		}
	}
}

// httpError is an error with the status the person sees.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func refuse(code int, msg string) error { return &httpError{code, msg} }

func (c *Console) fail(r *request, err error) {
	var he *httpError
	code, msg := http.StatusInternalServerError, "internal error"
	switch {
	case errors.As(err, &he):
		code, msg = he.code, he.msg
	case errors.Is(err, store.ErrNotFound):
		code, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, store.ErrState), errors.Is(err, store.ErrArgument):
		code, msg = http.StatusConflict, err.Error()
	default:
		c.o.Log.Error("console", "path", r.URL.Path, "who", r.who.Name, "err", err)
	}
	if code == http.StatusForbidden || code == http.StatusUnauthorized {
		c.refused.Add(1)
		c.o.Log.Info("console: refused", "path", r.URL.Path, "who", r.who.Name, "role", r.who.Role, "why", msg)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(r.w, code, map[string]string{"error": msg})
		return
	}
	r.w.WriteHeader(code)
	c.render(r, "message", map[string]any{"Code": code, "Message": msg})
}

// render writes page name with data and the layout's common fields.
func (c *Console) render(r *request, name string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["Who"], data["CSRF"], data["Lang"], data["Path"] = r.who, r.csrf, r.lang, r.URL.RequestURI()
	data["L"] = localizer{lang: r.lang, loc: c.o.Location}
	r.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	r.w.Header().Set("Cache-Control", "no-store")
	if err := c.pages[name].Execute(r.w, data); err != nil {
		c.o.Log.Error("console: render", "page", name, "err", err)
	}
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	who, _, err := c.who(r)
	switch {
	case err != nil:
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
	case who.Role == people.RoleCustodian || who.Role == people.RoleAuxiliary:
		http.Redirect(w, r, "/fleet", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/inbox", http.StatusSeeOther)
	}
}

func (c *Console) setLang(w http.ResponseWriter, r *http.Request) {
	l := r.PathValue("lang")
	if l != langEN {
		l = langZH
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
	back := r.URL.Query().Get("back")
	if !localPath(back) {
		back = "/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// localPath accepts only a path on this site (no scheme, no host, no //).
// Control characters are refused too: a browser strips tabs and line
// breaks from a Location before reading it (WHATWG URL), so "/\t/evil"
// would take the person to //evil, off-site.
func localPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, `\`) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return false
		}
	}
	return true
}
