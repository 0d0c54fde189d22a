package console

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/console/api"
	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// footage commits b as serial's segment seq reported by dock (both
// stores, with the collector's receipt for dock's upload, as an upload
// would).
// report commits one report of dock, as ingest would after decoding it.
func (w *world) report(t *testing.T, id, dock string, at time.Time, typ string, b any) {
	t.Helper()
	env, err := wire.NewEnvelope(id, dock, at, typ, b)
	if err != nil {
		t.Fatal(err)
	}
	body, err := wire.DecodeBody(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.Commit(context.Background(), []store.Incoming{{Env: env, Body: body}}); err != nil {
		t.Fatal(err)
	}
}

func (w *world) footage(t *testing.T, dock, serial string, seq uint64, officer, caseTag string, b []byte) string {
	t.Helper()
	return w.footageVia(t, dock, dock, serial, seq, officer, caseTag, b)
}

// footageVia is footage uploaded by dock uploader ("": a receipt naming
// no dock, as before migration 0016) and reported by dock.
func (w *world) footageVia(t *testing.T, uploader, dock, serial string, seq uint64, officer, caseTag string, b []byte) string {
	t.Helper()
	ctx := context.Background()
	s := sha256.Sum256(b)
	sum := hex.EncodeToString(s[:])
	up := sum[:32] // an upload id
	if _, err := w.ev.Begin(ctx, up, int64(len(b)), sum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ev.Append(ctx, up, 0, bytes.NewReader(b), int64(len(b)), sum); err != nil {
		t.Fatal(err)
	}
	obj, err := w.ev.Commit(ctx, up, sum, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Minute)
	m := &wire.SegmentManifest{Serial: serial, Seq: seq, Start: start, End: start.Add(time.Minute), Size: int64(len(b)), SHA256: obj.ID,
		StopCause: wire.StopAutoSplit, Officer: officer, CaseTag: caseTag, Media: "h264/aac", ClockSyncedAt: start, State: wire.SegBuffered}
	w.report(t, "m"+obj.ID[:8], dock, start, wire.TypeSegmentManifest, m)
	r := wire.Receipt{ObjectID: obj.Ref(), Device: serial, Seq: seq, SHA256: obj.ID, Size: obj.Size, StoredAt: time.Now().UTC()}
	r.Sign(wire.KeyID(w.key.Public().(ed25519.PublicKey)), w.key)
	if err := w.st.RecordReceiptFrom(ctx, r, uploader); err != nil {
		t.Fatal(err)
	}
	return obj.ID
}

func jsonBody(v any) *bytes.Reader { return bytes.NewReader(must(json.Marshal(v))) }

// TestEvidenceAPI walks custody over HTTP: search by case and officer
// within one's units, play (in the access log), link a case, hold and
// lift with a reason (supervisors only), an export requested, refused to
// its requester's own approval, approved by another supervisor, packaged
// with a manifest that verifies, downloaded; the access log holds every
// step; auxiliary staff and custodians get none of it.
func TestEvidenceAPI(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.dir.Add(ctx, store.Person{Name: "chief2", Role: people.RoleSupervisor, Units: []string{"u1"}}, "a long password", "test"); err != nil {
		t.Fatal(err)
	}
	tok2, err := w.dir.IssueToken(ctx, "chief2", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	clip := bytes.Repeat([]byte("footage!"), 4096)
	obj := w.footage(t, "dock-1", "R1", 7, "o-1", "CASE-1", clip)
	w.footage(t, "dock-2", "R9", 1, "o-1", "CASE-1", []byte("other unit's footage"))
	chief := w.tokens["chief"]

	// Search: by case and by officer, only the caller's units.
	for _, q := range []string{"?case=CASE-1", "?officer=o-1", "?recorder=R1&from=2026-11-30&to=2026-11-30"} {
		code, body := w.do(t, "GET", "/api/evidence"+q, chief, nil)
		var got struct{ Segments []api.Footage }
		json.Unmarshal([]byte(body), &got)
		if code != 200 || len(got.Segments) != 1 || got.Segments[0].Serial != "R1" || got.Segments[0].Unit != "u1" || got.Segments[0].Object == "" {
			t.Fatalf("search %s: %d %s", q, code, body)
		}
	}
	for _, who := range []string{"aux", "keeper"} {
		if code, _ := w.do(t, "GET", "/api/evidence?case=CASE-1", w.tokens[who], nil); code != http.StatusForbidden {
			t.Errorf("%s searched evidence: %d", who, code)
		}
		if code, _ := w.do(t, "GET", "/evidence/R1/7/clip", w.tokens[who], nil); code != http.StatusForbidden {
			t.Errorf("%s played footage: %d", who, code)
		}
		if code, _ := w.do(t, "POST", "/api/exports", w.tokens[who], jsonBody(map[string]any{"items": []any{map[string]any{"serial": "R1", "seq": 7}},
			"recipient": "x", "purpose": "y"})); code != http.StatusForbidden {
			t.Errorf("%s requested an export: %d", who, code)
		}
	}
	if code, _ := w.do(t, "GET", "/evidence/R9/1/clip", chief, nil); code != http.StatusNotFound {
		t.Errorf("another unit's footage: %d", code)
	}
	// Play: a range, logged.
	code, body := w.do(t, "GET", "/evidence/R1/7/clip", chief, nil, "Range", "bytes=0-99")
	if code != http.StatusPartialContent || body != string(clip[:100]) {
		t.Fatalf("play: %d (%d bytes)", code, len(body))
	}

	// Link and hold.
	if code, body := w.do(t, "POST", "/api/evidence/R1/7/links", chief, jsonBody(map[string]string{"case": "XZCF-2026-17", "type": "complaint",
		"party": "某餐馆", "reason": "complaint filed"})); code != 200 || !strings.Contains(body, `"by": "chief"`) {
		t.Fatalf("link: %d %s", code, body)
	}
	if code, body := w.do(t, "GET", "/api/evidence?case=XZCF-2026-17", chief, nil); code != 200 || !strings.Contains(body, "某餐馆") {
		t.Fatalf("search by the linked case: %d %s", code, body)
	}
	if code, _ := w.do(t, "POST", "/api/evidence/R1/7/hold", chief, jsonBody(map[string]string{"reason": ""})); code != http.StatusBadRequest {
		t.Errorf("hold without a reason: %d", code)
	}
	if code, body := w.do(t, "POST", "/api/evidence/R1/7/hold", chief, jsonBody(map[string]string{"reason": "lawsuit"})); code != 200 ||
		!strings.Contains(body, `"enforced_by": "application"`) {
		t.Fatalf("hold: %d %s", code, body)
	}
	if code, _ := w.do(t, "POST", "/api/evidence/R1/7/hold", chief, jsonBody(map[string]string{"reason": "again"})); code != http.StatusConflict {
		t.Errorf("hold twice: %d", code)
	}
	if hs, _ := w.st.Holds(ctx, obj); len(hs) != 1 || !hs[0].Held || hs[0].By.Name != "chief" {
		t.Errorf("holds %+v", hs)
	}
	if code, _ := w.do(t, "POST", "/api/evidence/R1/7/lift-hold", chief, jsonBody(map[string]string{"reason": "case closed"})); code != 200 {
		t.Errorf("lift: %d", code)
	}

	// Export: request, self-approval refused, approval by another
	// supervisor of the unit, package, download.
	code, body = w.do(t, "POST", "/api/exports", chief, jsonBody(map[string]any{"items": []any{map[string]any{"serial": "R1", "seq": 7}},
		"recipient": "县检察院", "purpose": "prosecution"}))
	var ex api.Export
	if json.Unmarshal([]byte(body), &ex); code != 200 || ex.State != store.ExportRequested || ex.Unit != "u1" {
		t.Fatalf("request: %d %s", code, body)
	}
	path := "/api/exports/" + string(must(json.Marshal(ex.ID)))
	if code, _ := w.do(t, "POST", path+"/approve", chief, jsonBody(map[string]string{})); code != http.StatusForbidden {
		t.Errorf("requester approved own export: %d", code)
	}
	if code, _ := w.do(t, "POST", path+"/package", chief, nil); code != http.StatusForbidden {
		t.Errorf("packaged before approval: %d", code)
	}
	code, body = w.do(t, "GET", "/api/exports?state=requested", tok2, nil)
	if code != 200 || !strings.Contains(body, `"approve"`) {
		t.Fatalf("chief2's approvals: %d %s", code, body)
	}
	if code, body := w.do(t, "POST", path+"/approve", tok2, jsonBody(map[string]string{"reason": "ok"})); code != 200 || !strings.Contains(body, `"approved"`) {
		t.Fatalf("approve: %d %s", code, body)
	}
	if code, body := w.do(t, "POST", path+"/package", chief, nil); code != 200 || !strings.Contains(body, "package.zip") {
		t.Fatalf("package: %d %s", code, body)
	}
	m, err := custody.VerifyPackage(filepath.Join(w.data, "exports", "export-"+string(must(json.Marshal(ex.ID)))),
		wire.ReceiptKeys{w.key.Public().(ed25519.PublicKey)})
	if err != nil || len(m.Items) != 1 || m.ApprovedBy.Name != "chief2" || m.RequestedBy.Name != "chief" {
		t.Fatalf("package verifies: %+v %v", m, err)
	}
	code, body = w.do(t, "GET", path+"/package.zip", chief, nil)
	zr, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
	if code != 200 || err != nil || len(zr.File) != 3 {
		t.Fatalf("download: %d %v", code, err)
	}
	if code, _ := w.do(t, "GET", path+"/package.zip", w.tokens["aux"], nil); code != http.StatusForbidden {
		t.Errorf("auxiliary downloaded: %d", code)
	}

	// The pages: search with results, the play page, the exports.
	for path, want := range map[string]string{"/evidence?search=1&case=CASE-1": "R1 #7", "/evidence/R1/7": `<video id="player"`,
		"/exports": `data-state="packaged"`} {
		if code, body := w.do(t, "GET", path, chief, nil); code != 200 || !strings.Contains(body, want) {
			t.Errorf("page %s: %d, lacks %s", path, code, want)
		}
	}
	if code, body := w.do(t, "GET", "/evidence/R1/7", w.tokens["aux"], nil); code != http.StatusForbidden || strings.Contains(body, "<video") {
		t.Errorf("auxiliary's play page: %d", code)
	}

	// The access log: the view, the export's steps, the download.
	code, body = w.do(t, "GET", "/api/access?object="+obj, chief, nil)
	for _, want := range []string{`"action": "view"`, `"action": "export-requested"`, `"action": "export-approved"`, `"action": "export"`,
		`"action": "export-download"`, `"viewer": "chief2"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("access log lacks %s: %d %s", want, code, body)
		}
	}
	if code, _ := w.do(t, "GET", "/api/access", w.tokens["aux"], nil); code != http.StatusForbidden {
		t.Errorf("auxiliary read the access log: %d", code)
	}
	if _, err := os.Stat(filepath.Join(w.data, "exports")); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAPICovers: every /api route the console serves is in
// /api/openapi.json, and every path there is served.
func TestOpenAPICovers(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	for path, ops := range doc.Paths {
		for method := range ops {
			p := strings.NewReplacer("{id}", "1", "{serial}", "R1", "{seq}", "7", "{dock}", "dock-1", "{slot}", "A").Replace(path)
			code, body := w.do(t, strings.ToUpper(method), "/api"+strings.TrimPrefix(p, "/api"), "", nil)
			if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
				t.Errorf("%s %s in openapi.json is not served: %d %s", method, path, code, body)
			}
		}
	}
	for _, want := range []string{"/api/evidence", "/api/evidence/{serial}/{seq}", "/api/evidence/{serial}/{seq}/links",
		"/api/evidence/{serial}/{seq}/hold", "/api/evidence/{serial}/{seq}/lift-hold", "/api/evidence/{serial}/{seq}/holds",
		"/api/exports", "/api/exports/{id}", "/api/exports/{id}/approve", "/api/exports/{id}/refuse", "/api/exports/{id}/package",
		"/api/exports/{id}/package.zip", "/api/access", "/api/admin/registry", "/api/people"} {
		if doc.Paths[want] == nil {
			t.Errorf("openapi.json lacks %s", want)
		}
	}
}

// A supervisor's search is kept to their units in the store's query, so a
// page is full of their footage however much of other units' lies between,
// and pages follow each other by the next cursor; the access log is kept
// to their units' footage the same way.
func TestEvidenceSearchPagesWithinUnits(t *testing.T) {
	w := newWorld(t)
	chief := w.tokens["chief"]
	var mine []string
	var objs []string
	for seq := uint64(1); seq <= 5; seq++ {
		objs = append(objs, w.footage(t, "dock-1", "R1", seq, "o-1", "CASE-P", []byte(fmt.Sprintf("mine %d", seq))))
		w.footage(t, "dock-2", "R9", seq, "o-1", "CASE-P", []byte(fmt.Sprintf("theirs %d", seq)))
		mine = append(mine, fmt.Sprintf("R1/%d", seq))
	}
	var got []string
	after := ""
	for page := 0; page < 5; page++ {
		code, body := w.do(t, "GET", "/api/evidence?case=CASE-P&limit=2&after="+url.QueryEscape(after), chief, nil)
		var p struct {
			Segments []api.Footage
			Next     string
		}
		if err := json.Unmarshal([]byte(body), &p); code != 200 || err != nil {
			t.Fatalf("page %d: %d %s", page, code, body)
		}
		if p.Next != "" && len(p.Segments) != 2 {
			t.Fatalf("page %d: %d rows and a next cursor", page, len(p.Segments))
		}
		for _, s := range p.Segments {
			got = append(got, fmt.Sprintf("%s/%d", s.Serial, s.Seq))
		}
		if after = p.Next; after == "" {
			break
		}
	}
	if strings.Join(got, " ") != strings.Join(mine, " ") {
		t.Fatalf("pages found %v, want %v", got, mine)
	}
	if code, _ := w.do(t, "GET", "/api/evidence?after=nonsense", chief, nil); code != http.StatusBadRequest {
		t.Fatalf("a bad cursor: %d", code)
	}
	// The page links its next page (and, past the first, the first).
	link := regexp.MustCompile(`id="(next|first)-page"|href="(/evidence\?[^"]+)" id="next-page"`)
	pageURL, pages := "/evidence?search=1&case=CASE-P&limit=2", 0
	for pageURL != "" && pages < 5 {
		code, body := w.do(t, "GET", pageURL, chief, nil)
		if code != 200 {
			t.Fatalf("%s: %d %s", pageURL, code, body)
		}
		if pages > 0 && !strings.Contains(body, `id="first-page"`) {
			t.Fatalf("page %d links no first page", pages)
		}
		pageURL = ""
		for _, m := range link.FindAllStringSubmatch(body, -1) {
			if m[2] != "" {
				pageURL = html.UnescapeString(m[2])
			}
		}
		pages++
	}
	if pages != 3 {
		t.Fatalf("followed %d evidence pages of 2 rows for 5 segments, want 3", pages)
	}

	ctx := context.Background()
	for _, o := range []string{objs[0], "an-object-of-no-unit"} {
		if err := w.st.RecordAccess(ctx, store.FootageAccess{Viewer: "someone", Role: "supervisor", ObjectID: o, Action: "view", Granted: true}); err != nil {
			t.Fatal(err)
		}
	}
	code, body := w.do(t, "GET", "/api/access?viewer=someone", chief, nil)
	if code != 200 || !strings.Contains(body, objs[0]) || strings.Contains(body, "an-object-of-no-unit") {
		t.Fatalf("access log of the supervisor's units: %d %s", code, body)
	}
	if code, _ := w.do(t, "GET", "/api/access?unit=u2", chief, nil); code != http.StatusForbidden {
		t.Fatalf("access log of another unit: %d", code)
	}
}
