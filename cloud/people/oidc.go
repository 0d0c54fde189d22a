package people

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/berthdock/berth/cloud/store"
)

// OIDC sign-in (optional per agency): the console sends the browser to the
// agency's identity provider with the authorization-code flow (state,
// nonce and PKCE S256), the provider sends it back with a code, and the
// collector exchanges the code, verifies the ID token (signature from the
// provider's JWKS, issuer, audience = our client id, expiry) with
// coreos/go-oidc, checks the nonce, and reads one configured claim. The
// claim names a person who must already be in the registry and enabled:
// nothing is created and no role comes from the provider. The session
// opened is the same as a password sign-in's.

// OIDCConfig configures sign-in with an OpenID Connect provider.
type OIDCConfig struct {
	Issuer       string // the provider's issuer URL (discovery at /.well-known/openid-configuration)
	ClientID     string
	ClientSecret string
	RedirectURL  string // the console's /signin/oidc/callback as the provider reaches the browser
	// PostLogoutURL is where the provider sends the browser back after
	// its logout (default: /signin on RedirectURL's origin); it must be
	// registered with the provider like RedirectURL.
	PostLogoutURL string
	// Claim of the ID token that names the person (default
	// "preferred_username"); its value must be a person's sign-in name.
	Claim string
	// Domain, if set, is required after an "@" in the claim (an email)
	// and stripped before the name is looked up.
	Domain string
	// Client is the HTTP client for discovery, JWKS and the token
	// exchange (default http.DefaultClient).
	Client *http.Client
}

// Reasons an OIDC sign-in is refused; each is counted and logged by the
// console, and the person sees which.
var (
	ErrOIDCUnavailable = errors.New("people: the identity provider is unavailable")
	ErrOIDCState       = errors.New("people: OIDC sign-in: the state does not match this browser's sign-in (start again)")
	ErrOIDCProvider    = errors.New("people: OIDC sign-in: the identity provider refused")
	ErrOIDCToken       = errors.New("people: OIDC sign-in: the ID token is not valid")
	ErrOIDCExpired     = errors.New("people: OIDC sign-in: the ID token has expired")
	ErrOIDCNonce       = errors.New("people: OIDC sign-in: the ID token's nonce is not this sign-in's")
	ErrOIDCClaim       = errors.New("people: OIDC sign-in: the ID token does not name a person")
	ErrOIDCPerson      = errors.New("people: OIDC sign-in: no enabled person of that name in the registry")
)

// OIDC signs people in through an OpenID Connect provider. Discovery is
// done at the first sign-in (and tried again after a failure), so a
// provider that is down does not stop the collector.
type OIDC struct {
	cfg OIDCConfig
	dir *Directory

	mu       sync.Mutex
	provider *oidc.Provider
}

// NewOIDC checks cfg; sessions are opened in dir.
func NewOIDC(cfg OIDCConfig, dir *Directory) (*OIDC, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("people: OIDC needs an issuer, a client id and a redirect URL")
	}
	if cfg.Claim == "" {
		cfg.Claim = "preferred_username"
	}
	if cfg.PostLogoutURL == "" {
		u, err := url.Parse(cfg.RedirectURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("people: OIDC redirect URL %q is not an absolute URL", cfg.RedirectURL)
		}
		cfg.PostLogoutURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/signin"}).String()
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	return &OIDC{cfg: cfg, dir: dir}, nil
}

func (o *OIDC) ctx(ctx context.Context) context.Context { return oidc.ClientContext(ctx, o.cfg.Client) }

// discover returns the provider, fetching its discovery document once.
func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOIDCUnavailable, err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
}

// OIDCFlow is what the browser keeps (in a short-lived cookie) between
// leaving for the provider and coming back: the state, the nonce and the
// PKCE verifier.
type OIDCFlow struct {
	State, Nonce, Verifier string
}

// Encode is the flow as one cookie value.
func (f OIDCFlow) Encode() string { return f.State + "." + f.Nonce + "." + f.Verifier }

// DecodeOIDCFlow reads a flow cookie value.
func DecodeOIDCFlow(v string) (OIDCFlow, error) {
	parts := strings.Split(v, ".")
	if len(v) > 512 || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return OIDCFlow{}, ErrOIDCState
	}
	return OIDCFlow{State: parts[0], Nonce: parts[1], Verifier: parts[2]}, nil
}

func randomValue() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Begin starts a sign-in: the provider's authorization URL to send the
// browser to, and the flow it must bring back.
func (o *OIDC) Begin(ctx context.Context) (string, OIDCFlow, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", OIDCFlow{}, err
	}
	f := OIDCFlow{State: randomValue(), Nonce: randomValue(), Verifier: oauth2.GenerateVerifier()}
	u := o.oauth(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return u, f, nil
}

// Finish completes a sign-in from the provider's redirect (its query q)
// and the browser's flow: it exchanges the code with the PKCE verifier,
// verifies the ID token and its nonce, maps the claim to a person of the
// registry and opens a session. name is what the token claimed (for the
// log), even when refused.
func (o *OIDC) Finish(ctx context.Context, f OIDCFlow, state, code, providerErr string) (s Session, name string, err error) {
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(f.State)) != 1 {
		return Session{}, "", ErrOIDCState
	}
	if providerErr != "" {
		return Session{}, "", fmt.Errorf("%w: %s", ErrOIDCProvider, loggable(providerErr))
	}
	if code == "" {
		return Session{}, "", fmt.Errorf("%w: no code", ErrOIDCProvider)
	}
	p, err := o.discover(ctx)
	if err != nil {
		return Session{}, "", err
	}
	tok, err := o.oauth(p).Exchange(o.ctx(ctx), code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return Session{}, "", fmt.Errorf("%w: token exchange: %w", ErrOIDCProvider, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Session{}, "", fmt.Errorf("%w: the token response has no id_token", ErrOIDCToken)
	}
	v := p.VerifierContext(o.ctx(ctx), &oidc.Config{ClientID: o.cfg.ClientID, Now: o.dir.clock.Now})
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return Session{}, "", fmt.Errorf("%w: %w", ErrOIDCExpired, err)
		}
		return Session{}, "", fmt.Errorf("%w: %w", ErrOIDCToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return Session{}, "", ErrOIDCNonce
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Session{}, "", fmt.Errorf("%w: %w", ErrOIDCToken, err)
	}
	val, _ := claims[o.cfg.Claim].(string)
	if val == "" {
		return Session{}, "", fmt.Errorf("%w: no %q claim", ErrOIDCClaim, o.cfg.Claim)
	}
	name = val
	if o.cfg.Domain != "" {
		local, domain, ok := strings.Cut(val, "@")
		if !ok || !strings.EqualFold(domain, o.cfg.Domain) {
			return Session{}, loggable(val), fmt.Errorf("%w: %q is not of @%s", ErrOIDCClaim, loggable(val), o.cfg.Domain)
		}
		name = local
	}
	s, err = o.dir.openSession(ctx, name)
	if errors.Is(err, ErrUnknown) {
		return Session{}, loggable(name), fmt.Errorf("%w: %q", ErrOIDCPerson, loggable(name))
	}
	s.IDToken = raw
	return s, name, err
}

// LogoutURL is where to send the browser once the console's own session
// has ended, so that the provider's ends too (OpenID Connect RP-Initiated
// Logout 1.0): the provider's end_session_endpoint with the ID token of
// the sign-in as hint (if the browser still had it), our client id, and
// the way back to the console. Without it, the next "sign in with the
// directory" on a shared desk PC would sign the last person in again
// without a password. "" if the provider offers no logout endpoint.
func (o *OIDC) LogoutURL(ctx context.Context, idTokenHint string) (string, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil || meta.EndSession == "" {
		return "", nil
	}
	u, err := url.Parse(meta.EndSession)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%w: end_session_endpoint %q is not a URL", ErrOIDCUnavailable, loggable(meta.EndSession))
	}
	q := u.Query()
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	q.Set("client_id", o.cfg.ClientID)
	q.Set("post_logout_redirect_uri", o.cfg.PostLogoutURL)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// loggable bounds what a provider or a token said before it is logged
// or shown.
func loggable(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// openSession opens a session for an existing, enabled person whose
// identity was proven other than by password (OIDC).
func (d *Directory) openSession(ctx context.Context, name string) (Session, error) {
	p, ok, err := d.st.PersonByName(ctx, name)
	if err != nil {
		return Session{}, err
	}
	if !ok || p.Disabled || !ValidRole(p.Role) {
		return Session{}, ErrUnknown
	}
	return d.newSession(ctx, p)
}

// newSession opens a session for p.
func (d *Directory) newSession(ctx context.Context, p store.Person) (Session, error) {
	s := Session{Cookie: newSecret(), CSRF: newSecret(), Expires: d.clock.Now().Add(d.ttl), Who: principalOf(p)}
	if err := d.st.CreateSession(ctx, store.Session{IDHash: HashToken(s.Cookie), Person: p.Name, CSRF: s.CSRF, Expires: s.Expires}); err != nil {
		return Session{}, err
	}
	return s, nil
}
