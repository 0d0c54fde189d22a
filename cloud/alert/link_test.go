package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// dingTalkRobot stands in for DingTalk's robot endpoint: it checks the
// 加签 signature as DingTalk documents it (HMAC-SHA256 keyed by the secret
// over "timestamp\nsecret", base64, URL-encoded in sign; timestamp within
// an hour) and answers with DingTalk's error codes.
type dingTalkRobot struct {
	secret string
	now    time.Time
	mu     sync.Mutex
	texts  []string
}

func (d *dingTalkRobot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil || q.Get("access_token") != "tok" {
		io.WriteString(w, `{"errcode":310000,"errmsg":"sign not match"}`)
		return
	}
	m := hmac.New(sha256.New, []byte(d.secret))
	m.Write([]byte(q.Get("timestamp") + "\n" + d.secret))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	// r.URL.Query() has already URL-decoded sign: a '+' sent raw would
	// have become a space here and fail.
	if !hmac.Equal([]byte(q.Get("sign")), []byte(want)) {
		io.WriteString(w, `{"errcode":310000,"errmsg":"sign not match"}`)
		return
	}
	if d := d.now.Sub(time.UnixMilli(ts)); d > time.Hour || d < -time.Hour {
		io.WriteString(w, `{"errcode":310000,"errmsg":"timestamp expired"}`)
		return
	}
	var body struct {
		Markdown struct{ Text string } `json:"markdown"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		io.WriteString(w, `{"errcode":40035,"errmsg":"bad body"}`)
		return
	}
	d.mu.Lock()
	d.texts = append(d.texts, body.Markdown.Text)
	d.mu.Unlock()
	io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
}

func TestDingTalkSigning(t *testing.T) {
	robot := &dingTalkRobot{secret: "SECd0c5e1a8e9f14b2c8a0a7a1b2c3d4e5f", now: t0}
	srv := httptest.NewServer(robot)
	defer srv.Close()
	ctx := context.Background()
	at := func(tt time.Time) func() time.Time { return func() time.Time { return tt } }
	a := sample()
	a.Link = Links{Base: "https://console.example/", Key: DeriveLinkKey([]byte("seed")), Now: at(t0)}.For(a.Key)
	// Many timestamps: some signatures hold '+' and '/', which must be
	// URL-encoded to survive.
	for i := range 20 {
		w := &Webhook{URL: srv.URL + "/robot/send?access_token=tok", Format: FormatDingTalk, Secret: robot.secret,
			Now: at(t0.Add(time.Duration(i) * 7 * time.Millisecond))}
		if err := w.Deliver(ctx, a); err != nil {
			t.Fatalf("signed delivery %d refused: %v", i, err)
		}
	}
	if len(robot.texts) != 20 || !strings.Contains(robot.texts[0], "https://console.example/alerts/link?a=") {
		t.Fatalf("robot got %d messages; first %q", len(robot.texts), robot.texts)
	}
	for name, w := range map[string]*Webhook{
		"wrong secret": {URL: srv.URL + "/robot/send?access_token=tok", Format: FormatDingTalk, Secret: "SECother", Now: at(t0)},
		"no secret":    {URL: srv.URL + "/robot/send?access_token=tok", Format: FormatDingTalk},
		"stale":        {URL: srv.URL + "/robot/send?access_token=tok", Format: FormatDingTalk, Secret: robot.secret, Now: at(t0.Add(-2 * time.Hour))},
	} {
		if err := w.Deliver(ctx, a); !errors.Is(err, ErrDelivery) || !strings.Contains(err.Error(), "310000") {
			t.Errorf("%s: %v, want the robot's refusal", name, err)
		}
	}
}

func TestLinks(t *testing.T) {
	now := t0
	l := Links{Base: "https://console.example", Key: DeriveLinkKey([]byte("receipt-seed")), TTL: time.Hour, Now: func() time.Time { return now }}
	link := l.For("interruption-unexplained/R1/8")
	u, err := url.Parse(link)
	if err != nil || u.Path != LinkPath || u.Host != "console.example" {
		t.Fatalf("link %q (%v)", link, err)
	}
	key, until, err := l.Verify(u.Query())
	if err != nil || key != "interruption-unexplained/R1/8" || !until.Equal(t0.Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("verify: %q %v %v", key, until, err)
	}
	// Another alert's key, a later expiry, another collector's key: forged.
	for name, mut := range map[string]func(url.Values){
		"other alert": func(q url.Values) { q.Set("a", "interruption-unexplained/R1/9") },
		"extended":    func(q url.Values) { q.Set("exp", strconv.FormatInt(t0.Add(48*time.Hour).Unix(), 10)) },
		"bad sig":     func(q url.Values) { q.Set("sig", base64.RawURLEncoding.EncodeToString(make([]byte, 32))) },
	} {
		q := u.Query()
		mut(q)
		if _, _, err := l.Verify(q); !errors.Is(err, ErrLinkForged) {
			t.Errorf("%s: %v, want forged", name, err)
		}
	}
	q := u.Query()
	q.Set("dtaction", "openurl") // added by a messenger: ignored
	if k, _, err := l.Verify(q); err != nil || k != key {
		t.Errorf("with an extra parameter: %q %v", k, err)
	}
	other := l
	other.Key = DeriveLinkKey([]byte("another collector"))
	if _, _, err := other.Verify(u.Query()); !errors.Is(err, ErrLinkForged) {
		t.Errorf("other key: %v", err)
	}
	for name, q := range map[string]url.Values{
		"empty":     {},
		"twice":     {"a": {"k", "j"}, "exp": {"1"}, "sig": {"x"}},
		"exp not n": {"a": {"k"}, "exp": {"+1"}, "sig": {"x"}},
		"sig b64":   {"a": {"k"}, "exp": {"1"}, "sig": {"!!"}},
	} {
		if _, _, err := l.Verify(q); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	now = t0.Add(time.Hour)
	if _, _, err := l.Verify(u.Query()); !errors.Is(err, ErrLinkExpired) {
		t.Errorf("after its hour: %v, want expired", err)
	}
}

func FuzzLinkVerify(f *testing.F) {
	l := Links{Base: "https://c", Key: DeriveLinkKey([]byte("s")), Now: func() time.Time { return t0 }}
	good, _ := url.Parse(l.For("k/1"))
	f.Add(good.RawQuery)
	f.Add("a=k&exp=99999999999&sig=AAAA")
	f.Add("a=&exp=-1&sig=")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		key, _, err := l.Verify(q)
		if err == nil && l.For(key) == "" {
			t.Fatal("verified link names no alert")
		}
		if err != nil && !errors.Is(err, ErrLinkForged) && !errors.Is(err, ErrLinkExpired) && !errors.Is(err, ErrLinkInvalid) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
