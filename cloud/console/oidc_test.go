package console

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
)

// idp is an OpenID Connect identity provider for tests, served on
// 127.0.0.1:0: discovery, JWKS, an authorization endpoint that approves
// the configured user at once, and a token endpoint that checks the
// client's secret, the code, the redirect URL and the PKCE verifier and
// signs an ES256 ID token with go-jose. Its knobs make the next ID token
// wrong in one way (nonce, expiry, audience).
type idp struct {
	srv              *httptest.Server
	key              *ecdsa.PrivateKey
	clientID, secret string

	mu     sync.Mutex
	grants map[string]grant // by code
	user   string           // the preferred_username of the next sign-in
	nonce  string           // if set, the ID token's nonce instead of the client's
	aud    string           // if set, the ID token's audience instead of the client id
	exp    time.Duration    // the ID token's lifetime (negative: expired)
	state  string           // if set, the state sent back instead of the client's
	// host, if set, names the provider in its URLs instead of 127.0.0.1
	// (a browser test puts it on another site than the console's).
	host string
	// interactive: the authorization endpoint shows an approval form
	// instead of redirecting at once.
	interactive bool
	// noLogout: discovery names no end_session_endpoint.
	noLogout bool
	issued   string       // the last ID token signed
	logouts  []url.Values // the logout requests, in order
}

// url is the provider's base URL and issuer.
func (p *idp) url() string {
	if p.host != "" {
		return strings.Replace(p.srv.URL, "127.0.0.1", p.host, 1)
	}
	return p.srv.URL
}

type grant struct{ nonce, challenge, redirect, user string }

func newIDP(t *testing.T) *idp {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{key: key, clientID: "berth-console", secret: "client-secret-of-the-test", grants: map[string]grant{}, exp: 5 * time.Minute}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		u := p.url()
		meta := map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
			"jwks_uri": u + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"ES256"}, "code_challenge_methods_supported": []string{"S256"}}
		p.mu.Lock()
		if !p.noLogout {
			meta["end_session_endpoint"] = u + "/logout?realm=police"
		}
		p.mu.Unlock()
		json.NewEncoder(w).Encode(meta)
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.logouts = append(p.logouts, r.URL.Query())
		p.mu.Unlock()
		http.Redirect(w, r, r.URL.Query().Get("post_logout_redirect_uri"), http.StatusFound)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") != p.clientID || q.Get("code_challenge_method") != "S256" ||
			q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "openid") {
			http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		code := fmt.Sprintf("code-%d", len(p.grants)+1)
		p.grants[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), user: p.user}
		state := q.Get("state")
		if p.state != "" {
			state = p.state
		}
		interactive := p.interactive
		p.mu.Unlock()
		back := q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {state}}.Encode()
		if interactive {
			// The person approves on the provider's own page: the way
			// back to the console then starts on the provider's site.
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><form method="post" action="/approve"><input type="hidden" name="back" value="%s">`+
				`<button id="approve">Approve</button></form>`, html.EscapeString(back))
			return
		}
		http.Redirect(w, r, back, http.StatusFound)
	})
	mux.HandleFunc("POST /approve", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.FormValue("back"), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.FormValue("client_id"), r.FormValue("client_secret")
		}
		if id != p.clientID || secret != p.secret {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		p.mu.Lock()
		g, ok := p.grants[r.FormValue("code")]
		delete(p.grants, r.FormValue("code"))
		nonce, aud, exp := g.nonce, p.clientID, p.exp
		if p.nonce != "" {
			nonce = p.nonce
		}
		if p.aud != "" {
			aud = p.aud
		}
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
		if !ok || r.FormValue("grant_type") != "authorization_code" || r.FormValue("redirect_uri") != g.redirect ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		now := time.Now()
		idt, err := jwt.Signed(sig).Claims(jwt.Claims{Issuer: p.url(), Subject: "sub-" + g.user, Audience: jwt.Audience{aud},
			IssuedAt: jwt.NewNumericDate(now.Add(min(exp, 0) - time.Minute)), Expiry: jwt.NewNumericDate(now.Add(exp))}).
			Claims(map[string]any{"nonce": nonce, "preferred_username": g.user}).Serialize()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		p.mu.Lock()
		p.issued = idt
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + g.user, "token_type": "Bearer", "expires_in": 300, "id_token": idt})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// TestOIDCSignIn drives the real redirect flow (console → provider →
// console) with a browser's cookie jar: a person of the registry named by
// the provider gets the same session as a password sign-in; a wrong
// nonce, an expired token, a wrong audience, a state that is not the
// browser's, an unknown and a disabled person are each refused with a
// clear reason on the sign-in page, counted and logged.
func TestOIDCSignIn(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.dir.Add(ctx, store.Person{Name: "gone", Role: people.RoleSupervisor, Units: []string{"u1"}, Disabled: true}, "a long password", "test"); err != nil {
		t.Fatal(err)
	}
	p := newIDP(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(b) }), nil))
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { h.ServeHTTP(rw, r) }))
	t.Cleanup(srv.Close)
	o, err := people.NewOIDC(people.OIDCConfig{Issuer: p.srv.URL, ClientID: p.clientID, ClientSecret: p.secret,
		RedirectURL: srv.URL + "/signin/oidc/callback"}, w.dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Opts{Store: w.st, People: w.dir, Footage: w.ev, Log: log, OIDC: o})
	if err != nil {
		t.Fatal(err)
	}
	h = c.Handler()

	// The sign-in page offers the provider.
	resp, err := http.Get(srv.URL + "/signin?next=/inbox")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `id="signin-oidc"`) {
		t.Fatal("the sign-in page offers no OIDC sign-in")
	}
	for _, tc := range []struct {
		name  string
		setup func(*idp)
		code  int
		why   string // in the page and the log; "" for success
	}{
		{"success", func(p *idp) { p.user = "chief" }, 200, ""},
		{"wrong nonce", func(p *idp) { p.user, p.nonce = "chief", "someone-elses-nonce" }, 401, "nonce"},
		{"expired token", func(p *idp) { p.user, p.exp = "chief", -time.Minute }, 401, "expired"},
		{"wrong audience", func(p *idp) { p.user, p.aud = "chief", "another-client" }, 401, "audience"},
		{"state not the browser's", func(p *idp) { p.user, p.state = "chief", "forged-state" }, 401, "state does not match"},
		{"unknown person", func(p *idp) { p.user = "stranger" }, 403, "no enabled person of that name in the registry"},
		{"disabled person", func(p *idp) { p.user = "gone" }, 403, "no enabled person of that name in the registry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.mu.Lock()
			p.user, p.nonce, p.aud, p.exp, p.state = "", "", "", 5*time.Minute, ""
			tc.setup(p)
			p.mu.Unlock()
			refusedBefore := c.OIDCRefused()
			jar, _ := cookiejar.New(nil)
			client := &http.Client{Jar: jar}
			resp, err := client.Get(srv.URL + "/signin/oidc?next=/inbox")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d:\n%s", resp.StatusCode, tc.code, body)
			}
			if tc.why == "" {
				if resp.Request.URL.Path != "/inbox" || !strings.Contains(string(body), `id="alerts"`) {
					t.Errorf("signed in, landed on %s:\n%s", resp.Request.URL, body)
				}
				me, err := client.Get(srv.URL + "/api/me")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(me.Body)
				me.Body.Close()
				if !strings.Contains(string(b), `"name": "chief"`) || !strings.Contains(string(b), `"role": "supervisor"`) {
					t.Errorf("the OIDC session is not chief's: %s", b)
				}
				if c.OIDCRefused() != refusedBefore {
					t.Error("a good sign-in was counted as refused")
				}
				// Signing out ends the provider's session too, with the
				// sign-in's ID token as hint, and comes back to sign-in.
				p.mu.Lock()
				issued, before := p.issued, len(p.logouts)
				p.mu.Unlock()
				out := signOut(t, client, srv.URL, string(body))
				if out.Request.URL.String() != srv.URL+"/signin" {
					t.Errorf("after signing out: %s, want the console's sign-in", out.Request.URL)
				}
				p.mu.Lock()
				logouts := p.logouts[before:]
				p.mu.Unlock()
				if len(logouts) != 1 || logouts[0].Get("id_token_hint") != issued || logouts[0].Get("client_id") != p.clientID ||
					logouts[0].Get("post_logout_redirect_uri") != srv.URL+"/signin" || logouts[0].Get("realm") != "police" {
					t.Errorf("the provider's logout requests: %v", logouts)
				}
				if me, _ := client.Get(srv.URL + "/api/me"); me.StatusCode != http.StatusUnauthorized {
					t.Errorf("signed out, /api/me answers %d", me.StatusCode)
				}
				return
			}
			if !strings.Contains(string(body), `id="signin-error"`) || !strings.Contains(string(body), tc.why) {
				t.Errorf("the sign-in page does not say %q:\n%s", tc.why, body)
			}
			if got := c.OIDCRefused() - refusedBefore; got != 1 {
				t.Errorf("refusals counted: %d, want 1", got)
			}
			mu.Lock()
			logged := strings.Contains(logs.String(), "OIDC sign-in refused") && strings.Contains(logs.String(), tc.why)
			mu.Unlock()
			if !logged {
				t.Errorf("the refusal is not logged with %q:\n%s", tc.why, logs.String())
			}
			if me, _ := client.Get(srv.URL + "/api/me"); me.StatusCode != http.StatusUnauthorized {
				t.Errorf("a refused sign-in left a session: %d", me.StatusCode)
			}
		})
	}
}

// signOut posts the sign-out form of page (a signed-in page) with its
// CSRF token and follows the redirects.
func signOut(t *testing.T, client *http.Client, base, page string) *http.Response {
	t.Helper()
	m := regexp.MustCompile(`action="/signout".*?name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no sign-out form with a CSRF token in the page:\n%s", page)
	}
	resp, err := client.PostForm(base+"/signout", url.Values{"csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign-out ended with %d at %s", resp.StatusCode, resp.Request.URL)
	}
	return resp
}

// TestOIDCSignOutWithoutProviderLogout: a provider that offers no
// end_session_endpoint leaves sign-out as it is for a password: the
// console's session ends and the browser is back at sign-in.
func TestOIDCSignOutWithoutProviderLogout(t *testing.T) {
	w := newWorld(t)
	p := newIDP(t)
	p.noLogout, p.user = true, "chief"
	srv, _ := oidcConsole(t, w, p)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(srv.URL + "/signin/oidc?next=/inbox")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/inbox" {
		t.Fatalf("OIDC sign-in landed on %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	out := signOut(t, client, srv.URL, string(page))
	if out.Request.URL.String() != srv.URL+"/signin" || len(p.logouts) != 0 {
		t.Errorf("signed out to %s with %d provider logouts; want the console's sign-in and none", out.Request.URL, len(p.logouts))
	}
	if me, _ := client.Get(srv.URL + "/api/me"); me.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed out, /api/me answers %d", me.StatusCode)
	}
}

// oidcConsole serves w's console, signing in through p, on 127.0.0.1:0.
func oidcConsole(t *testing.T, w *world, p *idp) (*httptest.Server, *Console) {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { h.ServeHTTP(rw, r) }))
	t.Cleanup(srv.Close)
	o, err := people.NewOIDC(people.OIDCConfig{Issuer: p.url(), ClientID: p.clientID, ClientSecret: p.secret,
		RedirectURL: srv.URL + "/signin/oidc/callback"}, w.dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Opts{Store: w.st, People: w.dir, Footage: w.ev, Log: w.con.o.Log, OIDC: o})
	if err != nil {
		t.Fatal(err)
	}
	h = c.Handler()
	return srv, c
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
