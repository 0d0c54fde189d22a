package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/berthdock/berth/cloud/store"
)

// browseConsole drives the demo's console in real headless Chromium, once
// the shift has settled: the supervisor finds the unexplained interruption,
// plays the opening window of the resumed recording and acknowledges it
// with a written explanation; the auxiliary can neither open its footage
// nor close it; the custodian sees the worn battery first on the pull list
// and downloads the CSV; the admin adds a unit to the auxiliary and then
// disables them, and the auxiliary's open session and API token stop at
// once. Screenshots go to BERTH_SCREENSHOTS (else the
// test's temporary directory). One Chromium serves every person, each in
// its own browser context (its own cookies).
func browseConsole(t *testing.T) func(context.Context, *world) error {
	return func(ctx context.Context, w *world) error {
		chromium, err := exec.LookPath("chromium")
		if err != nil {
			if os.Getenv("BERTH_REQUIRE_CHROMIUM") != "" {
				return fmt.Errorf("chromium is required (BERTH_REQUIRE_CHROMIUM is set) but not on PATH")
			}
			t.Log("chromium missing: the console's browser tests are skipped (apt-get install chromium)")
			return nil
		}
		shots := os.Getenv("BERTH_SCREENSHOTS")
		if shots == "" {
			shots = t.TempDir()
		}
		if err := os.MkdirAll(shots, 0o750); err != nil {
			return err
		}
		alloc, cancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
			chromedp.WindowSize(1280, 900))...)
		defer cancel()
		browser, cancelBrowser := chromedp.NewContext(alloc)
		defer cancelBrowser()
		if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
			return fmt.Errorf("start chromium: %w", err)
		}
		ppl := map[string]signin{}
		for _, p := range w.people {
			ppl[p.Role] = p
		}
		var alertID string
		t.Run("supervisor", func(t *testing.T) { alertID = browseSupervisor(t, browser, w, ppl["supervisor"], shots) })
		t.Run("evidence", func(t *testing.T) { browseEvidence(t, browser, w, ppl["supervisor"], shots) })
		t.Run("auxiliary", func(t *testing.T) { browseAuxiliary(t, browser, w, ppl["auxiliary"], alertID, shots) })
		t.Run("custodian", func(t *testing.T) { browseCustodian(t, browser, w, ppl["custodian"], shots) })
		t.Run("admin", func(t *testing.T) { browseAdmin(t, browser, w, ppl["admin"], ppl["auxiliary"], shots) })
		t.Logf("console screenshots in %s", shots)
		return nil
	}
}

// person opens a fresh browser context (own cookies) and signs p in.
func person(t *testing.T, browser context.Context, w *world, p signin) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelT)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(w.consoleURL()+"signin"),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), p.Name),
		chromedp.SendKeys(chromedp.ID("password"), p.Password),
		chromedp.Click(chromedp.ID("signin-submit")),
		chromedp.WaitVisible(chromedp.ID("who")),
	); err != nil {
		t.Fatalf("%s signs in: %v", p.Name, err)
	}
	return ctx
}

func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o640); err != nil {
		t.Error(err)
	}
}

const unexplained = `tr[data-serial="BWC-0101"][data-kind^="interruption-"] a.alert-link`

func browseSupervisor(t *testing.T, browser context.Context, w *world, p signin, shots string) string {
	ctx := person(t, browser, w, p)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("alerts"))); err != nil {
		t.Fatalf("inbox: %v", err)
	}
	inbox, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("alerts")))
	shot(t, ctx, shots, "inbox")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(unexplained)),
		chromedp.WaitVisible(chromedp.ID("timeline")),
	); err != nil {
		t.Fatalf("open the interruption from the inbox (%q): %v", inbox, err)
	}
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	id := url[strings.LastIndex(url, "/")+1:]
	facts, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("dl.facts")))
	foot, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("footer")))
	for _, want := range []string{"010234", "BWC-0101 #4", "fault", "Asia/Shanghai"} {
		if !strings.Contains(facts+foot, want) {
			t.Errorf("alert page lacks %q:\n%s\n%s", want, facts, foot)
		}
	}
	// The player plays the opening window of the resumed recording.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("player"))); err != nil {
		t.Fatalf("no player: %v", err)
	}
	played, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => { const v = document.getElementById('player'); v.muted = true; await v.play(); return true })()`,
		chromedp.EvalAwaitPromise))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const v = document.getElementById('player'); return v.currentTime > 0.5 && v.readyState >= 2 })()`,
			chromedp.WithPollingTimeout(60*time.Second)))
	}
	if err != nil || !played {
		t.Fatalf("the player did not play the opening window: played=%v %v", played, err)
	}
	shot(t, ctx, shots, "alert")
	acc, err := w.Col.Store().FootageAccesses(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAccess(acc, p.Name, true) {
		t.Errorf("no granted footage access by %s in the access log: %+v", p.Name, acc)
	}
	// Acknowledge with the written explanation; it is in the history.
	const why = "设备故障，民警已口头报告；书面说明已附卷"
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("comment"), why),
		chromedp.Click(chromedp.ID("do-acknowledge")),
		chromedp.WaitVisible(chromedp.ID("history-table")),
	); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	hist, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("history-table")))
	state, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("alert-state")))
	if !strings.Contains(hist, why) || !strings.Contains(hist, p.Name) || state != "已确认" {
		t.Errorf("after acknowledging: state %q, history %q", state, hist)
	}
	return id
}

// browseEvidence: the supervisor searches footage by officer, then by the
// case number found with the officer, opens a result and plays it; the
// access log holds the view from the evidence page.
func browseEvidence(t *testing.T, browser context.Context, w *world, p signin, shots string) {
	ctx := person(t, browser, w, p)
	const officer = "010234"
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("nav-evidence")),
		chromedp.WaitVisible(chromedp.ID("q-officer")),
		chromedp.SendKeys(chromedp.ID("q-officer"), officer),
		chromedp.Click(chromedp.ID("search")),
		chromedp.WaitVisible(chromedp.ID("footage")),
	); err != nil {
		t.Fatalf("search by officer: %v", err)
	}
	rows, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("footage")))
	cases, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#footage tbody tr td:nth-child(7)`)))
	caseNo := strings.TrimSpace(strings.Fields(cases + " ")[0])
	if !strings.Contains(rows, "BWC-0101") || !strings.HasPrefix(caseNo, "A-") {
		t.Fatalf("officer %s's footage: case %q in\n%s", officer, caseNo, rows)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("q-case"), caseNo),
		chromedp.Click(chromedp.ID("search")),
	); err != nil {
		t.Fatalf("search by case %s: %v", caseNo, err)
	}
	// The results of the page before stay visible until the search's page
	// has loaded: wait for that page, else the click lands on the old one.
	waitFor(t, ctx, `new URLSearchParams(location.search).get('case') === `+strconv.Quote(caseNo)+
		` && document.readyState === 'complete' && !!document.getElementById('footage')`, "the search by case "+caseNo)
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#footage tr:has(input[type=checkbox]) a.segment-link`)),
		chromedp.WaitVisible(chromedp.ID("player")),
	); err != nil {
		t.Fatalf("search by case %s and open a result: %v", caseNo, err)
	}
	played, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => { const v = document.getElementById('player'); v.muted = true; await v.play(); return true })()`,
		chromedp.EvalAwaitPromise))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const v = document.getElementById('player'); return v.currentTime > 0.2 && v.readyState >= 2 })()`,
			chromedp.WithPollingTimeout(60*time.Second)))
	}
	if err != nil || !played {
		t.Fatalf("the evidence player did not play: played=%v %v", played, err)
	}
	shot(t, ctx, shots, "evidence")
	acc, err := w.Col.Store().AccessLog(ctx, store.AccessQuery{Viewer: p.Name, Action: "view"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range acc {
		found = found || a.Granted && strings.HasPrefix(a.Reason, "evidence: ")
	}
	if !found {
		t.Errorf("no view from the evidence page by %s in the access log: %+v", p.Name, acc)
	}
}

func hasAccess(acc []store.FootageAccess, viewer string, granted bool) bool {
	for _, a := range acc {
		if a.Viewer == viewer && a.Granted == granted {
			return true
		}
	}
	return false
}

func browseAuxiliary(t *testing.T, browser context.Context, w *world, p signin, id string, shots string) {
	if id == "" {
		t.Skip("the supervisor found no alert")
	}
	ctx := person(t, browser, w, p)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(w.consoleURL()+"alerts/"+id),
		chromedp.WaitVisible(chromedp.ID("history")),
	); err != nil {
		t.Fatalf("auxiliary opens the alert: %v", err)
	}
	eval := func(js string) int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	players := eval(`document.querySelectorAll('#player').length`)
	closers := eval(`document.querySelectorAll('#do-close, #do-acknowledge').length`)
	refusals := eval(`document.querySelectorAll('#no-footage').length`)
	clip := eval(`fetch('/alerts/` + id + `/clip').then(r => r.status)`)
	// Forcing the close by hand, with the page's own CSRF token.
	closeStatus := eval(`fetch('/alerts/` + id + `/act', {method: 'POST', body: new URLSearchParams({action: 'close',
		csrf: document.querySelector('input[name=csrf]').value})}).then(r => r.status)`)
	shot(t, ctx, shots, "alert-auxiliary")
	if players != 0 || closers != 0 || refusals != 1 {
		t.Errorf("auxiliary sees %d players, %d acknowledge/close buttons, %d refusal notes; want 0, 0, 1", players, closers, refusals)
	}
	if clip != 403 || closeStatus != 403 {
		t.Errorf("auxiliary fetching the clip: %d, closing: %d; want 403 and 403", clip, closeStatus)
	}
	acc, _ := w.Col.Store().FootageAccesses(ctx, "", 0)
	if !hasAccess(acc, p.Name, false) || hasAccess(acc, p.Name, true) {
		t.Errorf("the access log does not hold exactly refusals for %s: %+v", p.Name, acc)
	}
	a, _, _ := w.Col.Store().AlertByID(ctx, mustID(t, id))
	if a.State == store.AlertClosed {
		t.Errorf("the auxiliary closed alert %s", id)
	}
}

// waitFor evaluates js (a boolean expression) in ctx's page until it is
// true, for up to 30 s; an evaluation cut by a navigation is asked again.
// A click's new page replaces the old one some time after the click, and
// the old page's elements stay visible until then.
func waitFor(t *testing.T, ctx context.Context, js, what string) {
	t.Helper()
	var err error
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		var ok bool
		if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
	}
	t.Fatalf("waited 30 s for %s (last error %v)", what, err)
}

func mustID(t *testing.T, s string) int64 {
	var id int64
	if _, err := fmt.Sscan(s, &id); err != nil {
		t.Fatalf("alert id %q: %v", s, err)
	}
	return id
}

func browseCustodian(t *testing.T, browser context.Context, w *world, p signin, shots string) {
	ctx := person(t, browser, w, p)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("recorders"))); err != nil {
		t.Fatalf("custodian's fleet: %v", err)
	}
	first, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#recorders tbody tr').dataset.serial`))
	if err != nil {
		t.Fatal(err)
	}
	csv, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.getElementById('recorders-csv').href).then(r => r.text())`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, shots, "fleet")
	if first != "BWC-0102" {
		t.Errorf("first on the pull list: %q, want the worn battery BWC-0102", first)
	}
	lines := strings.Split(strings.TrimPrefix(csv, "\uFEFF"), "\n")
	if len(lines) < 5 || !strings.HasPrefix(lines[0], "serial,unit,officer") || !strings.HasPrefix(lines[1], "BWC-0102,") ||
		!strings.Contains(lines[1], "battery-worn") {
		t.Errorf("recorders.csv:\n%s", csv)
	}
}

// browseAdmin: the auxiliary is signed in and holds an API token; the
// admin opens the auxiliary from the registry, adds a unit, then disables
// them; both changes are in the auxiliary's history with the admin's
// name; the auxiliary's open page sends them to sign in at the next
// request, their token answers 401, and they cannot sign in again.
func browseAdmin(t *testing.T, browser context.Context, w *world, admin, aux signin, shots string) {
	auxCtx := person(t, browser, w, aux)
	tok, err := w.Col.People().IssueToken(auxCtx, aux.Name, "demo test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	me := func() int {
		req, _ := http.NewRequestWithContext(auxCtx, "GET", w.consoleURL()+"api/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := me(); code != http.StatusOK {
		t.Fatalf("the auxiliary's token before: %d", code)
	}
	ctx := person(t, browser, w, admin)
	edit := `tr[data-name="` + aux.Name + `"] a.edit-person`
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("nav-admin")),
		chromedp.WaitVisible(chromedp.ID("people-table")),
		chromedp.Click(chromedp.CSS(edit)),
		chromedp.WaitVisible(chromedp.ID("edit-person")),
		chromedp.SetValue(chromedp.ID("units"), demoUnit+",unit-4"),
		chromedp.Click(chromedp.ID("save-person")),
	); err != nil {
		t.Fatalf("the admin edits %s: %v", aux.Name, err)
	}
	// Each save loads the person's page anew; the table of the page before
	// is visible until then, so wait for the change itself to be listed
	// (else the next click lands on the page being replaced).
	listed := func(what string) {
		t.Helper()
		waitFor(t, ctx, `(() => { const c = document.getElementById('changes-table'); return !!c && c.textContent.includes(`+strconv.Quote(what)+`) })()`,
			"the person's page to list "+what)
	}
	listed(demoUnit + ",unit-4")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("disabled")),
		chromedp.Click(chromedp.ID("save-person")),
	); err != nil {
		t.Fatalf("the admin disables %s: %v", aux.Name, err)
	}
	listed("disabled (sessions ended")
	changes, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("changes-table")))
	shot(t, ctx, shots, "person")
	for _, want := range []string{"units " + demoUnit + " → " + demoUnit + ",unit-4", "disabled (sessions ended, API tokens revoked)", admin.Name} {
		if !strings.Contains(changes, want) {
			t.Errorf("the auxiliary's history lacks %q:\n%s", want, changes)
		}
	}
	// The auxiliary's open session: the next page is the sign-in.
	if err := chromedp.Do(auxCtx,
		chromedp.Navigate(w.consoleURL()+"fleet"),
		chromedp.WaitVisible(chromedp.ID("signin-submit")),
	); err != nil {
		t.Errorf("a disabled auxiliary's session still works: %v", err)
	}
	if code := me(); code != http.StatusUnauthorized {
		t.Errorf("a disabled auxiliary's token: %d, want 401", code)
	}
	if _, err := w.Col.People().SignIn(auxCtx, aux.Name, aux.Password); err == nil {
		t.Error("a disabled auxiliary signed in")
	}
}
