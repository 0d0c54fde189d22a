package console

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/berthdock/berth/cloud/people"
)

func constantEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (c *Console) anonymous(w http.ResponseWriter, r *http.Request) *request {
	return &request{Request: r, w: w, lang: langOf(r), ctx: r.Context()}
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !localPath(next) {
		next = "/"
	}
	c.render(c.anonymous(w, r), "signin", map[string]any{"Next": next, "OIDC": c.o.OIDC != nil})
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name, pw, next := r.FormValue("name"), r.FormValue("password"), r.FormValue("next")
	if !localPath(next) {
		next = "/"
	}
	s, err := c.o.People.SignIn(r.Context(), name, pw)
	if err != nil {
		code, msg := http.StatusUnauthorized, "wrong-credentials"
		switch {
		case errors.Is(err, people.ErrThrottled):
			code, msg = http.StatusTooManyRequests, "throttled"
		case !errors.Is(err, people.ErrPassword):
			c.o.Log.Error("console: sign-in", "err", err)
			code, msg = http.StatusServiceUnavailable, "unavailable"
		}
		c.o.Log.Info("console: sign-in refused", "name", loggable(name), "remote", r.RemoteAddr, "why", msg)
		w.WriteHeader(code)
		c.render(c.anonymous(w, r), "signin", map[string]any{"Next": next, "Error": msg, "Name": name, "OIDC": c.o.OIDC != nil})
		return
	}
	c.o.Log.Info("console: signed in", "name", s.Who.Name, "role", s.Who.Role, "remote", r.RemoteAddr)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.Cookie, Path: "/", Expires: s.Expires, HttpOnly: true,
		Secure: r.TLS != nil || c.o.SecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		s, err := c.o.People.FromCookie(r.Context(), ck.Value)
		if err == nil && !constantEq(r.FormValue("csrf"), s.CSRF) {
			http.Error(w, "the form is stale (CSRF token): reload the page", http.StatusForbidden)
			return
		}
		if err := c.o.People.SignOut(r.Context(), ck.Value); err != nil {
			c.o.Log.Error("console: sign-out", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	if u := c.oidcLogout(w, r); u != "" {
		http.Redirect(w, r, u, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// loggable bounds what a client sent before it is logged.
func loggable(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
