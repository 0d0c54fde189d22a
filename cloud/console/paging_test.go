package console

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// dockRecorder reports serial's health from dock (the recorder then
// belongs to the dock's unit).
func dockRecorder(t *testing.T, w *world, dock, serial string, slot, batteryPct int) {
	t.Helper()
	at := time.Date(2026, 11, 30, 22, 14, 0, 0, time.UTC)
	e, err := wire.NewEnvelope("h-"+serial, dock, at, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: serial, Firmware: "2.4.1",
		Slot: slot, DockedAt: at, DockClock: at, DeviceClock: at, ClockSet: true, Battery: wire.Battery{Percent: 50, HealthPct: batteryPct},
		Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.DecodeBody(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.Commit(context.Background(), []store.Incoming{{Env: e, Body: b}}); err != nil {
		t.Fatal(err)
	}
}

// TestInboxPages: the inbox and GET /api/alerts list a page at a time;
// following the next links visits every alert of the caller's scope once,
// most severe first; a forged cursor is refused.
func TestInboxPages(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for i := range 7 {
		if _, err := w.st.UpsertAlert(ctx, store.Alert{Key: fmt.Sprintf("b/%d", i), Kind: "battery-worn", Severity: []string{"info", "critical"}[i%2],
			Unit: "u1", Serial: fmt.Sprintf("R%d", 10+i), Title: "worn", At: at, OpenedAt: at.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	path := "/api/alerts?limit=3"
	for range 5 {
		code, body := w.do(t, "GET", path, w.tokens["chief"], nil)
		var page struct {
			Alerts []store.Alert `json:"alerts"`
			Next   string        `json:"next"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		for _, a := range page.Alerts {
			got = append(got, a.Severity+"/"+a.Key)
		}
		if page.Next == "" {
			break
		}
		path = "/api/alerts?limit=3&after=" + url.QueryEscape(page.Next)
	}
	want := []string{"critical/b/5", "critical/b/3", "critical/b/1", "warning/i/R1/7", "info/b/6", "info/b/4", "info/b/2", "info/b/0"}
	if !slices.Equal(got, want) {
		t.Errorf("pages of the inbox: %v, want %v", got, want)
	}
	code, body := w.do(t, "GET", "/inbox?limit=3", w.tokens["chief"], nil)
	if code != 200 || !strings.Contains(body, `id="next-page"`) || strings.Contains(body, `id="first-page"`) {
		t.Errorf("first inbox page: %d, want a next link and no first-page link", code)
	}
	code, body = w.do(t, "GET", "/inbox?limit=3&after="+url.QueryEscape("critical.1.1"), w.tokens["chief"], nil)
	if code != 200 || !strings.Contains(body, `id="first-page"`) {
		t.Errorf("a later inbox page: %d, want a first-page link", code)
	}
	for _, bad := range []string{"x", "critical.x.1", "critical.1.-1", "a.b.c.d"} {
		if code, body := w.do(t, "GET", "/api/alerts?after="+url.QueryEscape(bad), w.tokens["chief"], nil); code != 400 || !strings.Contains(body, "cursor") {
			t.Errorf("cursor %q: %d %s, want 400", bad, code, body)
		}
	}
}

// TestFleetPages: a fleet larger than the console judges whole is listed
// by serial a page at a time (every recorder once), with the units to
// choose from; one unit of it is judged whole, worn battery first; a unit
// outside the caller's scope is refused.
func TestFleetPages(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for i := range 5 {
		dockRecorder(t, w, "dock-1", fmt.Sprintf("R%02d", i), i%4, 95-i*10) // R02 at 75 %, R03 at 65 %, R04 at 55 %: worn
	}
	dockRecorder(t, w, "dock-2", "R99", 0, 90)
	if err := w.dir.Add(ctx, store.Person{Name: "root", Role: people.RoleAdmin}, "a long password", "test"); err != nil {
		t.Fatal(err)
	}
	root, err := w.dir.IssueToken(ctx, "root", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	list := func(path, tok string) (serials []string, next, order string) {
		t.Helper()
		code, body := w.do(t, "GET", path, tok, nil)
		var v struct {
			Recorders []recorderRow `json:"recorders"`
			Next      string        `json:"next"`
			Order     string        `json:"order"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		for _, r := range v.Recorders {
			serials = append(serials, r.Serial)
		}
		return serials, v.Next, v.Order
	}
	if got, _, order := list("/api/recorders", w.tokens["keeper"]); order != "pull-list" || !slices.Equal(got, []string{"R04", "R03", "R02", "R00", "R01"}) {
		t.Errorf("a small fleet, whole: %v (%s)", got, order)
	}
	w.con.fleetWhole = 3
	var all []string
	path := "/api/recorders?limit=2"
	for range 5 {
		got, next, order := list(path, root)
		if order != "serial" {
			t.Errorf("%s: order %q, want serial", path, order)
		}
		all = append(all, got...)
		if next == "" {
			break
		}
		path = "/api/recorders?limit=2&after=" + url.QueryEscape(next)
	}
	if !slices.Equal(all, []string{"R00", "R01", "R02", "R03", "R04", "R99"}) {
		t.Errorf("the admin's fleet by pages: %v", all)
	}
	if got, _, order := list("/api/recorders?unit=u2", root); order != "pull-list" || !slices.Equal(got, []string{"R99"}) {
		t.Errorf("unit u2: %v (%s)", got, order)
	}
	code, body := w.do(t, "GET", "/fleet?limit=2", root, nil)
	for _, want := range []string{`id="fleet-paged"`, `href="/fleet?unit=u1"`, `href="/fleet?unit=u2"`, `id="next-recorders"`, `id="list-docks"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("the admin's fleet page: %d, lacks %s", code, want)
		}
	}
	if strings.Contains(body, `data-dock="dock-1"`) {
		t.Error("the admin's fleet overview lists docks (they are a page of their own)")
	}
	code, body = w.do(t, "GET", "/fleet?after_dock=&limit=1", root, nil)
	if code != 200 || !strings.Contains(body, `data-dock="dock-1"`) || strings.Contains(body, `data-dock="dock-2"`) || !strings.Contains(body, `id="next-docks"`) {
		t.Errorf("the admin's first page of docks: %d, want dock-1 and a next link", code)
	}
	w.con.fleetWhole = 10
	code, body = w.do(t, "GET", "/fleet?unit=u1", root, nil)
	if code != 200 || strings.Contains(body, `id="fleet-paged"`) || strings.Index(body, `data-serial="R04"`) > strings.Index(body, `data-serial="R00"`) {
		t.Errorf("unit u1's fleet page: %d, want whole with the worn battery first", code)
	}
	if code, _ := w.do(t, "GET", "/api/recorders?unit=u2", w.tokens["keeper"], nil); code != 404 {
		t.Errorf("a custodian of u1 asking for u2's fleet: %d, want 404", code)
	}
	if code, body := w.do(t, "GET", "/fleet/recorders.csv?unit=u1", w.tokens["keeper"], nil); code != 200 || strings.Contains(body, "R99") || !strings.Contains(body, "R04") {
		t.Errorf("u1's CSV: %d\n%s", code, body)
	}
}

// TestRegistryPages: the admin's registry lists docks and recorders a page
// at a time; following next_dock and next_recorder visits each once.
func TestRegistryPages(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.st.EnrollUnit(ctx, store.Unit{ID: "u1", Name: "Section 1", Custodian: "keeper"}, "test"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		if err := w.st.EnrollRecorder(ctx, store.Recorder{Serial: fmt.Sprintf("REC-%d", i), Unit: "u1",
			PublicKey: ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.dir.Add(ctx, store.Person{Name: "root", Role: people.RoleAdmin}, "a long password", "test"); err != nil {
		t.Fatal(err)
	}
	root, err := w.dir.IssueToken(ctx, "root", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	w.con.registryPage = 2
	var docks, recs []string
	path := "/api/admin/registry"
	for range 5 {
		code, body := w.do(t, "GET", path, root, nil)
		var reg registry
		if code != 200 || json.Unmarshal([]byte(body), &reg) != nil {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		for _, d := range reg.Docks {
			docks = append(docks, d.ID)
		}
		for _, r := range reg.Recorders {
			recs = append(recs, r.Serial)
		}
		if reg.NextDock == "" && reg.NextRecorder == "" {
			break
		}
		afterDock, afterRec := reg.NextDock, reg.NextRecorder
		if afterDock == "" {
			afterDock = "~" // past the last dock: the docks are done
		}
		if afterRec == "" {
			afterRec = "~"
		}
		path = "/api/admin/registry?" + url.Values{"after_dock": {afterDock}, "after_recorder": {afterRec}}.Encode()
	}
	if !slices.Equal(docks, []string{"dock-1", "dock-2"}) || !slices.Equal(recs, []string{"REC-0", "REC-1", "REC-2", "REC-3", "REC-4"}) {
		t.Errorf("registry pages: docks %v, recorders %v", docks, recs)
	}
	if code, body := w.do(t, "GET", "/admin", root, nil); code != 200 || !strings.Contains(body, `id="next-recorders"`) || !strings.Contains(body, `id="next-docks"`) {
		t.Errorf("the admin page has no next links: %d", code)
	}
}
