package people

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/time/rate"

	"github.com/berthdock/berth/cloud/store"
)

// Directory signs people in and tells who holds a session cookie or an API
// token. It keeps nothing of its own but a sign-in throttle: people,
// sessions and tokens are in the store, so several collectors share them.
type Directory struct {
	st     *store.Store
	clock  clockwork.Clock
	hasher Hasher
	ttl    time.Duration
	// dummy is a hash verified for unknown names, so timing does not
	// tell who exists; made at the first sign-in.
	dummyOnce sync.Once
	dummy     string

	mu       sync.Mutex
	throttle map[string]*rate.Limiter
}

// Opts configure a Directory; zero fields take defaults.
type Opts struct {
	Clock      clockwork.Clock // default the real clock
	Hasher     *Hasher         // default DefaultHasher
	SessionTTL time.Duration   // default 12 h (a shift and its handover)
}

// TokenPrefix starts every session cookie and API token berth issues, so a
// leaked one is recognisable in logs and by secret scanners.
const TokenPrefix = "berth_"

// ErrThrottled refuses a sign-in after too many attempts for one name.
var ErrThrottled = errors.New("people: too many sign-in attempts; wait a minute")

// ErrUnknown reports an unknown, disabled or expired credential.
var ErrUnknown = errors.New("people: not signed in")

// New returns a Directory over st.
func New(st *store.Store, o Opts) (*Directory, error) {
	d := &Directory{st: st, clock: o.Clock, hasher: DefaultHasher, ttl: o.SessionTTL, throttle: map[string]*rate.Limiter{}}
	if d.clock == nil {
		d.clock = clockwork.NewRealClock()
	}
	if o.Hasher != nil {
		d.hasher = *o.Hasher
	}
	if d.ttl <= 0 {
		d.ttl = 12 * time.Hour
	}
	return d, nil
}

func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is the SHA-256 the store keeps of a cookie or token.
func HashToken(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// Add creates or updates a person; password "" keeps the stored one (a new
// person needs one unless they only use API tokens).
func (d *Directory) Add(ctx context.Context, p store.Person, password, by string) error {
	if !ValidRole(p.Role) {
		return fmt.Errorf("%w: role %q: want one of %s", store.ErrArgument, p.Role, strings.Join(Roles, ", "))
	}
	if p.Role != RoleAdmin && len(p.Units) == 0 {
		return fmt.Errorf("%w: %s needs at least one unit (only an admin acts in every unit)", store.ErrArgument, p.Name)
	}
	p.PasswordHash = ""
	if password != "" {
		var err error
		if p.PasswordHash, err = d.hasher.Hash(password); err != nil {
			return fmt.Errorf("%w: %w", store.ErrArgument, err)
		}
	}
	return d.st.SavePerson(ctx, p, by)
}

// Edit changes an existing person's role, units, display name or
// disabled state for an admin (by, acting as byRole); the store records
// the change with who made it and, on disabling, ends the person's
// sessions and revokes their API tokens: a disabled person's next request
// is refused whatever credential it carries.
func (d *Directory) Edit(ctx context.Context, name string, e store.PersonEdit, by, byRole string) (store.Person, error) {
	if !ValidRole(e.Role) {
		return store.Person{}, fmt.Errorf("%w: role %q: want one of %s", store.ErrArgument, e.Role, strings.Join(Roles, ", "))
	}
	if e.Role != RoleAdmin && len(e.Units) == 0 {
		return store.Person{}, fmt.Errorf("%w: %s needs at least one unit (only an admin acts in every unit)", store.ErrArgument, name)
	}
	return d.st.EditPerson(ctx, name, e, by, byRole)
}

// allow paces sign-in attempts per name: a burst of 5, then one each 10 s.
func (d *Directory) allow(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.throttle) > 10_000 {
		clear(d.throttle) // bounded: a flood of names forgets, never grows
	}
	l, ok := d.throttle[name]
	if !ok {
		l = rate.NewLimiter(rate.Every(10*time.Second), 5)
		d.throttle[name] = l
	}
	return l.AllowN(d.clock.Now(), 1)
}

// Session is a signed-in browser: its cookie value (given to the browser
// once, stored only as a hash) and its CSRF token.
type Session struct {
	Cookie  string
	CSRF    string
	Expires time.Time
	Who     Principal
	// IDToken is the provider's raw ID token of an OIDC sign-in ("" for a
	// password): the hint its logout takes (OIDC.LogoutURL).
	IDToken string
}

// SignIn checks a password and opens a session.
func (d *Directory) SignIn(ctx context.Context, name, password string) (Session, error) {
	if len(name) > 128 || !d.allow(name) {
		return Session{}, ErrThrottled
	}
	p, ok, err := d.st.PersonByName(ctx, name)
	if err != nil {
		return Session{}, err
	}
	d.dummyOnce.Do(func() { d.dummy, _ = d.hasher.Hash(newSecret()) })
	hash := d.dummy
	if ok && p.PasswordHash != "" {
		hash = p.PasswordHash
	}
	verr := Verify(hash, password)
	if !ok || p.PasswordHash == "" || p.Disabled || verr != nil {
		return Session{}, ErrPassword
	}
	return d.newSession(ctx, p)
}

// FromCookie returns the session a cookie value holds.
func (d *Directory) FromCookie(ctx context.Context, cookie string) (Session, error) {
	if !strings.HasPrefix(cookie, TokenPrefix) || len(cookie) > 128 {
		return Session{}, ErrUnknown
	}
	ss, ok, err := d.st.SessionByHash(ctx, HashToken(cookie))
	if err != nil || !ok {
		return Session{}, errors.Join(err, ErrUnknown)
	}
	who, err := d.active(ctx, ss.Person)
	if err != nil {
		return Session{}, err
	}
	return Session{Cookie: cookie, CSRF: ss.CSRF, Expires: ss.Expires, Who: who}, nil
}

// SignOut ends the session a cookie holds.
func (d *Directory) SignOut(ctx context.Context, cookie string) error {
	return d.st.DeleteSession(ctx, HashToken(cookie))
}

// IssueToken makes an API token for a person (shown once; the store keeps
// its hash); ttl 0 never expires.
func (d *Directory) IssueToken(ctx context.Context, person, label string, ttl time.Duration) (string, error) {
	tok := newSecret()
	var exp time.Time
	if ttl > 0 {
		exp = d.clock.Now().Add(ttl)
	}
	if err := d.st.CreateAPIToken(ctx, HashToken(tok), person, label, exp); err != nil {
		return "", err
	}
	return tok, nil
}

// FromToken returns who holds an API token.
func (d *Directory) FromToken(ctx context.Context, tok string) (Principal, error) {
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) > 128 {
		return Principal{}, ErrUnknown
	}
	person, ok, err := d.st.APITokenPerson(ctx, HashToken(tok))
	if err != nil || !ok {
		return Principal{}, errors.Join(err, ErrUnknown)
	}
	return d.active(ctx, person)
}

func (d *Directory) active(ctx context.Context, name string) (Principal, error) {
	p, ok, err := d.st.PersonByName(ctx, name)
	if err != nil {
		return Principal{}, err
	}
	if !ok || p.Disabled || !ValidRole(p.Role) {
		return Principal{}, ErrUnknown
	}
	return principalOf(p), nil
}
