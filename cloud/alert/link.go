package alert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// LinkPath is where the console answers an alert's signed link: it checks
// the signature and the expiry, then sends the browser to the alert's
// page, which still asks for a sign-in (the link is not a credential: it
// signs only which alert and until when, so a link forwarded out of a
// DingTalk group shows nobody any footage).
const LinkPath = "/alerts/link"

// Link errors.
var (
	ErrLinkForged  = errors.New("alert: link signature does not verify")
	ErrLinkExpired = errors.New("alert: link expired")
	ErrLinkInvalid = errors.New("alert: malformed link")
)

// Links signs and checks the short-lived links deliveries carry to an
// alert's page on the console.
type Links struct {
	// Base is the console's public URL (https://console.example), as
	// people's phones reach it; the link is Base + LinkPath + query.
	Base string
	// Key is the HMAC-SHA256 key (DeriveLinkKey: every collector instance
	// sharing the receipt key makes and accepts the same links).
	Key []byte
	// TTL is how long a link is good for (default 24 h; an escalation
	// delivers the alert again with a fresh link).
	TTL time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// DeriveLinkKey derives the link key from a secret the collector already
// keeps (its receipt signing key's seed), so no new secret is configured
// and a link key never signs anything else.
func DeriveLinkKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("berth alert page links v1"))
	return m.Sum(nil)
}

func (l Links) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

func (l Links) ttl() time.Duration {
	if l.TTL <= 0 {
		return 24 * time.Hour
	}
	return l.TTL
}

func (l Links) mac(key string, exp int64) []byte {
	m := hmac.New(sha256.New, l.Key)
	fmt.Fprintf(m, "alert-link\n%s\n%d", key, exp)
	return m.Sum(nil)
}

// For is the signed link to the alert whose deduplication key is key,
// good until now + TTL.
func (l Links) For(key string) string {
	exp := l.now().Add(l.ttl()).Unix()
	q := url.Values{"a": {key}, "exp": {strconv.FormatInt(exp, 10)},
		"sig": {base64.RawURLEncoding.EncodeToString(l.mac(key, exp))}}
	return strings.TrimRight(l.Base, "/") + LinkPath + "?" + q.Encode()
}

// Verify checks a link's query and returns the alert key it signs and its
// expiry. The signature is compared in constant time and checked before
// the expiry, so a forged link is reported as forged whatever its date.
func (l Links) Verify(q url.Values) (string, time.Time, error) {
	// Other parameters (a messenger's in-app browser may add some) are
	// ignored; each signed one must appear once.
	if len(q["a"]) != 1 || len(q["exp"]) != 1 || len(q["sig"]) != 1 {
		return "", time.Time{}, ErrLinkInvalid
	}
	key, expS, sigS := q.Get("a"), q.Get("exp"), q.Get("sig")
	if key == "" || len(key) > 512 || expS == "" || len(sigS) > 64 {
		return "", time.Time{}, ErrLinkInvalid
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || exp <= 0 || strconv.FormatInt(exp, 10) != expS {
		return "", time.Time{}, ErrLinkInvalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigS)
	if err != nil {
		return "", time.Time{}, ErrLinkInvalid
	}
	if len(l.Key) == 0 || !hmac.Equal(sig, l.mac(key, exp)) {
		return "", time.Time{}, ErrLinkForged
	}
	until := time.Unix(exp, 0)
	if !l.now().Before(until) {
		return key, until, ErrLinkExpired
	}
	return key, until, nil
}
