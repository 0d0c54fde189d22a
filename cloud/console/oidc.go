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
// logged with its reason, and shown on the sign-in page.

const oidcCookie = "berth_oidc"

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
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.Cookie, Path: "/", Expires: s.Expires, HttpOnly: true,
		Secure: r.TLS != nil || c.o.SecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
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
