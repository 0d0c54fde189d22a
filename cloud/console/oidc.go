package console

import (
	"errors"
	"net/http"

	"github.com/berthdock/berth/cloud/people"
)

// OIDC sign-in (Opts.OIDC): GET /signin/oidc sends the browser to the
// agency's identity provider with a fresh state, nonce and PKCE verifier
// kept in a short-lived HttpOnly cookie; GET /signin/oidc/callback brings
// it back, and package people verifies everything and opens the same
// session as a password sign-in. Each refusal is counted (OIDCRefused),
// logged with its reason, and shown on the sign-in page. Signing out of
// such a session also ends the provider's (RP-initiated logout, when the
// provider names an end_session_endpoint), so the next person at a shared
// desk PC is asked for their own password by the provider.

const oidcCookie = "berth_oidc"

// oidcHintCookie keeps an OIDC sign-in's ID token for the provider's
// logout at sign-out ("-" when the token is too long for a cookie: the
// logout then goes without the hint). It goes only to /signout.
const oidcHintCookie = "berth_oidc_hint"

// maxHintCookie bounds the ID token kept as a cookie (browsers keep
// about 4 KiB per cookie).
const maxHintCookie = 3500

func (c *Console) oidcRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /signin/oidc", c.oidcBegin)
	mux.HandleFunc("GET /signin/oidc/callback", c.oidcCallback)
}

func (c *Console) oidcBegin(w http.ResponseWriter, r *http.Request) {
	if c.o.OIDC == nil {
		http.Error(w, "this console has no OIDC sign-in", http.StatusNotFound)
		return
	}
	next := r.URL.Query().Get("next")
	if !localPath(next) {
		next = "/"
	}
	u, f, err := c.o.OIDC.Begin(r.Context())
	if err != nil {
		c.oidcRefuse(w, r, err, "", next)
		return
	}
	secure := r.TLS != nil || c.o.SecureCookies
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: f.Encode(), Path: "/signin/oidc", MaxAge: 600, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: oidcCookie + "_next", Value: next, Path: "/signin/oidc", MaxAge: 600, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, u, http.StatusFound)
}

func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if c.o.OIDC == nil {
		http.Error(w, "this console has no OIDC sign-in", http.StatusNotFound)
		return
	}
	next := "/"
	if ck, err := r.Cookie(oidcCookie + "_next"); err == nil && localPath(ck.Value) {
		next = ck.Value
	}
	// The flow is used once, whatever the outcome.
	for _, n := range []string{oidcCookie, oidcCookie + "_next"} {
		http.SetCookie(w, &http.Cookie{Name: n, Value: "", Path: "/signin/oidc", MaxAge: -1, HttpOnly: true})
	}
	var f people.OIDCFlow
	ck, err := r.Cookie(oidcCookie)
	if err == nil {
		f, err = people.DecodeOIDCFlow(ck.Value)
	} else {
		err = people.ErrOIDCState
	}
	if err != nil {
		c.oidcRefuse(w, r, err, "", next)
		return
	}
	q := r.URL.Query()
	s, name, err := c.o.OIDC.Finish(r.Context(), f, q.Get("state"), q.Get("code"), q.Get("error"))
	if err != nil {
		c.oidcRefuse(w, r, err, name, next)
		return
	}
	c.o.Log.Info("console: signed in", "name", s.Who.Name, "role", s.Who.Role, "remote", r.RemoteAddr, "with", "oidc")
	secure := r.TLS != nil || c.o.SecureCookies
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.Cookie, Path: "/", Expires: s.Expires, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteLaxMode})
	hint := s.IDToken
	if len(hint) > maxHintCookie || hint == "" {
		hint = "-"
	}
	http.SetCookie(w, &http.Cookie{Name: oidcHintCookie, Value: hint, Path: "/signout", Expires: s.Expires, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// oidcLogout ends the provider's session after the console's own (the
// session of an OIDC sign-in, known by its hint cookie): the browser goes
// to the provider's logout, which sends it back to the sign-in page. ""
// for a password sign-in, a console without OIDC, or a provider without
// a logout endpoint (the console's session has ended all the same).
func (c *Console) oidcLogout(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(oidcHintCookie)
	if err != nil || c.o.OIDC == nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: oidcHintCookie, Value: "", Path: "/signout", MaxAge: -1, HttpOnly: true})
	hint := ck.Value
	if hint == "-" {
		hint = ""
	}
	u, err := c.o.OIDC.LogoutURL(r.Context(), hint)
	if err != nil {
		c.o.Log.Warn("console: the identity provider's logout is unavailable", "err", err)
		return ""
	}
	return u
}

// oidcRefuse counts, logs and shows a refused OIDC sign-in.
func (c *Console) oidcRefuse(w http.ResponseWriter, r *http.Request, err error, name, next string) {
	code, msg := http.StatusUnauthorized, "oidc-refused"
	switch {
	case errors.Is(err, people.ErrOIDCUnavailable):
		code, msg = http.StatusServiceUnavailable, "oidc-unavailable"
	case errors.Is(err, people.ErrOIDCPerson):
		code, msg = http.StatusForbidden, "oidc-unknown-person"
	case errors.Is(err, people.ErrOIDCState), errors.Is(err, people.ErrOIDCNonce), errors.Is(err, people.ErrOIDCToken),
		errors.Is(err, people.ErrOIDCExpired), errors.Is(err, people.ErrOIDCClaim), errors.Is(err, people.ErrOIDCProvider):
	default:
		c.o.Log.Error("console: OIDC sign-in", "err", err)
		code, msg = http.StatusServiceUnavailable, "unavailable"
	}
	c.oidcRefused.Add(1)
	c.o.Log.Warn("console: OIDC sign-in refused", "name", loggable(name), "remote", r.RemoteAddr, "why", err.Error())
	w.WriteHeader(code)
	c.render(c.anonymous(w, r), "signin", map[string]any{"Next": next, "Error": msg, "Why": err.Error(), "OIDC": true})
}

// OIDCRefused counts OIDC sign-ins refused (state, nonce, token, expiry,
// audience, unknown person, provider errors).
func (c *Console) OIDCRefused() int64 { return c.oidcRefused.Load() }
