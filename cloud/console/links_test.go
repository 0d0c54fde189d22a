package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAlertLinks: the link a DingTalk message carries leads to the alert's
// page, which still asks for a sign-in; a forged or expired link gets a
// page saying so, and is counted.
func TestAlertLinks(t *testing.T) {
	w := newWorld(t)
	local := func(link string) string {
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		return u.RequestURI()
	}
	good := local(w.links.For("i/R1/7"))
	code, _ := w.do(t, "GET", good, "", nil)
	if code != http.StatusSeeOther {
		t.Fatalf("good link: %d", code)
	}
	req, _ := http.NewRequest("GET", w.srv.URL+good, nil)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != fmt.Sprintf("/alerts/%d", w.alert) {
		t.Fatalf("good link leads to %q", loc)
	}
	// The page itself still needs a sign-in: the link is no credential.
	if code, _ := w.do(t, "GET", fmt.Sprintf("/alerts/%d", w.alert), "", nil); code != http.StatusSeeOther {
		t.Fatalf("alert page without sign-in: %d", code)
	}
	if code, body := w.do(t, "GET", fmt.Sprintf("/alerts/%d", w.alert), w.tokens["chief"], nil); code != 200 || !strings.Contains(body, "R1") {
		t.Fatalf("alert page signed in: %d", code)
	}

	forged := strings.Replace(good, "a=i%2FR1%2F7", "a=b%2FR9", 1)
	if forged == good {
		t.Fatal("test did not forge")
	}
	if code, body := w.do(t, "GET", forged, "", nil); code != http.StatusForbidden || !strings.Contains(body, "签名不符") {
		t.Errorf("forged link: %d %s", code, body)
	}
	if code, _ := w.do(t, "GET", "/alerts/link?a=x", "", nil); code != http.StatusForbidden {
		t.Errorf("malformed link: %d", code)
	}
	old := *w.links
	old.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	if code, body := w.do(t, "GET", local(old.For("i/R1/7")), "", nil, "Cookie", "berth_lang=en"); code != http.StatusGone ||
		!strings.Contains(body, "has expired") {
		t.Errorf("expired link: %d %s", code, body)
	}
	if code, _ := w.do(t, "GET", local(w.links.For("no/such")), "", nil); code != http.StatusNotFound {
		t.Errorf("link to no alert: %d", code)
	}
	if n := w.con.LinksRefused(); n != 4 {
		t.Errorf("links refused counted %d, want 4", n)
	}
}
