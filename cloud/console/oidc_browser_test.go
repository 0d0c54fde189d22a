package console

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestOIDCSignInBrowser signs a supervisor in through the provider in real
// headless Chromium. The provider is on another site than the console
// (localhost against 127.0.0.1), as an agency's directory is, and the
// person approves on the provider's page: the way back to the console
// starts on the provider's site, so the state and nonce cookies come back
// only if they are SameSite=Lax (Strict ones stay behind), the session cookie must then carry
// the person through the console's pages, and a person the registry does
// not know is shown the reason on the sign-in page, with no session.
func TestOIDCSignInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_CHROMIUM") != "" {
			t.Fatal("chromium is required (BERTH_REQUIRE_CHROMIUM is set) but not on PATH")
		}
		t.Skip("chromium missing (apt-get install chromium)")
	}
	w := newWorld(t)
	p := newIDP(t)
	p.host, p.interactive = "localhost", true
	srv, c := oidcConsole(t, w, p)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox)...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	t.Run("supervisor", func(t *testing.T) {
		p.mu.Lock()
		p.user = "chief"
		p.mu.Unlock()
		tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		defer cancel()
		if err := chromedp.Do(tab,
			chromedp.Navigate(srv.URL+"/signin?next=/fleet"),
			chromedp.WaitVisible(chromedp.ID("signin-oidc")),
			chromedp.Click(chromedp.ID("signin-oidc")),
			chromedp.WaitVisible(chromedp.ID("approve")),
			chromedp.Click(chromedp.ID("approve")),
			chromedp.WaitVisible(chromedp.CSS("#who, #signin-error")),
		); err != nil {
			t.Fatalf("OIDC sign-in in the browser: %v", err)
		}
		if why, err := chromedp.Run(tab, chromedp.Evaluate[string](`(document.getElementById('signin-error') || {}).textContent || ''`)); err != nil || why != "" {
			t.Fatalf("the OIDC sign-in was refused in the browser: %q %v", why, err)
		}
		who, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("who")))
		landed, _ := chromedp.Run(tab, chromedp.Location())
		if !strings.Contains(who, "chief") || !strings.HasPrefix(landed, srv.URL+"/fleet") {
			t.Errorf("signed in as %q, landed on %s; want chief on /fleet", who, landed)
		}
		// The session works on the next request, from the page's own fetch.
		me, err := chromedp.RunResponse(tab, chromedp.Navigate(srv.URL+"/api/me"))
		if err != nil || me.Status != 200 {
			t.Fatalf("GET /api/me after the OIDC sign-in: %v %v", me, err)
		}
		body, err := chromedp.Run(tab, chromedp.Text("body"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, `"name": "chief"`) {
			t.Errorf("/api/me after the OIDC sign-in: %s", body)
		}
		// Signing out goes through the provider's logout and back.
		p.mu.Lock()
		issued, before := p.issued, len(p.logouts)
		p.mu.Unlock()
		if err := chromedp.Do(tab,
			chromedp.Navigate(srv.URL+"/inbox"),
			chromedp.WaitVisible(chromedp.ID("signout")),
			chromedp.Click(chromedp.ID("signout")),
			chromedp.WaitVisible(chromedp.ID("signin-oidc")),
		); err != nil {
			t.Fatalf("signing out in the browser: %v", err)
		}
		p.mu.Lock()
		logouts := p.logouts[before:]
		p.mu.Unlock()
		if len(logouts) != 1 || logouts[0].Get("id_token_hint") != issued || logouts[0].Get("post_logout_redirect_uri") != srv.URL+"/signin" {
			t.Errorf("the provider's logout requests: %v", logouts)
		}
		me, err = chromedp.RunResponse(tab, chromedp.Navigate(srv.URL+"/api/me"))
		if err != nil || me.Status != http.StatusUnauthorized {
			t.Errorf("GET /api/me after signing out: %v %v, want 401", me, err)
		}
	})

	t.Run("stranger", func(t *testing.T) {
		p.mu.Lock()
		p.user = "stranger"
		p.mu.Unlock()
		refused := c.OIDCRefused()
		tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		defer cancel()
		if err := chromedp.Do(tab,
			chromedp.Navigate(srv.URL+"/signin?next=/inbox"),
			chromedp.Click(chromedp.ID("signin-oidc")),
			chromedp.WaitVisible(chromedp.ID("approve")),
			chromedp.Click(chromedp.ID("approve")),
			chromedp.WaitVisible(chromedp.ID("signin-error")),
		); err != nil {
			t.Fatalf("refused OIDC sign-in in the browser: %v", err)
		}
		why, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("signin-error")))
		if !strings.Contains(why, "no enabled person of that name in the registry") {
			t.Errorf("the sign-in page says %q", why)
		}
		if c.OIDCRefused() != refused+1 {
			t.Errorf("refusals counted: %d, want %d", c.OIDCRefused(), refused+1)
		}
		me, err := chromedp.RunResponse(tab, chromedp.Navigate(srv.URL+"/api/me"))
		if err != nil || me.Status != http.StatusUnauthorized {
			t.Errorf("GET /api/me after a refused sign-in: %v %v, want 401", me, err)
		}
	})
}
