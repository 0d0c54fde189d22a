package console

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/analysis"
	"github.com/berthdock/berth/cloud/console/api"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/store/pgtest"
	"github.com/berthdock/berth/cloud/wire"
)

// pgSchema is a fresh schema on the test PostgreSQL (pgtest.Schema) and
// the server's DSN.
func pgSchema(t *testing.T) (dsn, schema string) {
	t.Helper()
	return pgtest.DSN(), pgtest.Schema(t, "berth_console")
}

// The footage of a recorder enrolled nowhere is the unit's of the dock
// that uploaded it: a dock of unit u2 that reports the same segment of a
// u1 dock's upload (the same hash and receipt) gives u2's supervisors
// nothing (404, as if it did not exist: search, page, clip, export) and
// takes nothing from u1's; nor does a u2 dock that reported the segment
// before u1's upload was receipted.
func TestUnenrolledFootageFollowsUploader(t *testing.T) {
	withU2Chief(t, func(t *testing.T, w *world, tokU2 string) {
		ctx := context.Background()
		chief := w.tokens["chief"] // of u1

		// FREE/1: dock-1 (u1) uploads and reports it; dock-2 (u2)
		// then reports the same segment, later, with its receipt.
		w.footage(t, "dock-1", "FREE", 1, "o-1", "CASE-F", []byte("unit one's footage"))
		segs, err := w.st.Segments(ctx, "FREE", time.Time{}, time.Time{})
		if err != nil || len(segs) != 1 || segs[0].Receipt == nil {
			t.Fatalf("FREE segments %+v %v", segs, err)
		}
		g := segs[0]
		m := &wire.SegmentManifest{Serial: "FREE", Seq: 1, Start: g.Start, End: g.End, Size: g.Size, SHA256: g.SHA256,
			StopCause: wire.StopAutoSplit, Officer: "o-1", CaseTag: "CASE-F", Media: "h264/aac", ClockSyncedAt: g.Start,
			State: wire.SegUploaded, Receipt: g.Receipt}
		w.report(t, "hostile-1", "dock-2", g.Start.Add(time.Hour), wire.TypeSegmentManifest, m)
		if n := w.st.Refused(store.KindRecorderRefused); n != 1 {
			t.Errorf("%d reports refused, want dock-2's", n)
		}

		// FREE/2: dock-2 reports it first; dock-1's upload is then
		// receipted.
		w.footageVia(t, "dock-1", "dock-2", "FREE", 2, "o-1", "CASE-F", []byte("unit one's footage, reported by unit two first"))
		if segs, err := w.st.Segments(ctx, "FREE", time.Time{}, time.Time{}); err != nil || len(segs) != 2 || segs[1].Dock != "dock-2" {
			t.Fatalf("FREE segments %+v %v: want FREE/2 reported by dock-2", segs, err)
		}

		search := func(token string) []api.Footage {
			t.Helper()
			code, body := w.do(t, "GET", "/api/evidence?recorder=FREE", token, nil)
			var got struct{ Segments []api.Footage }
			if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
				t.Fatalf("search: %d %s", code, body)
			}
			return got.Segments
		}
		if got := search(chief); len(got) != 2 || got[0].Unit != "u1" || got[1].Unit != "u1" {
			t.Errorf("u1's search for FREE: %+v, want FREE/1 and FREE/2 of u1", got)
		}
		if got := search(tokU2); len(got) != 0 {
			t.Errorf("u2's search for FREE: %+v, want nothing", got)
		}
		for _, seq := range []uint64{1, 2} {
			at := fmt.Sprintf("FREE/%d", seq)
			for _, path := range []string{"/api/evidence/" + at, "/evidence/" + at, "/evidence/" + at + "/clip"} {
				if code, body := w.do(t, "GET", path, chief, nil); code != 200 {
					t.Errorf("u1's supervisor: GET %s = %d %.200s", path, code, body)
				}
				if code, _ := w.do(t, "GET", path, tokU2, nil); code != http.StatusNotFound {
					t.Errorf("u2's supervisor: GET %s = %d, want 404", path, code)
				}
			}
			code, body := w.do(t, "POST", "/api/exports", tokU2, jsonBody(map[string]any{"items": []any{map[string]any{"serial": "FREE", "seq": seq}},
				"recipient": "court", "purpose": "case"}))
			if code != http.StatusNotFound {
				t.Errorf("u2's supervisor exports %s: %d %s, want 404", at, code, body)
			}
		}
	})
}

// An alert about footage goes to the footage's unit, and the day view
// draws only footage of the viewer's units. FREE, enrolled nowhere, is
// docked at dock-1 (u1), which uploads seqs 1, 2 and 4 (3 is missing),
// then at dock-2 (u2), which finds its clock off. The analysis engine
// gives the hole (and every other finding about those segments) to u1,
// and the clock drift, a finding about the recorder, to u2, where FREE
// now is. u2's supervisor sees neither the hole in the inbox nor its page,
// and the day view of u2's own alert draws none of u1's segments; u1's
// draws them.
func TestFootageAlertsOfTheFootageUnit(t *testing.T) {
	withU2Chief(t, func(t *testing.T, w *world, tokU2 string) {
		ctx := context.Background()
		chief := w.tokens["chief"] // of u1
		docking := func(dock string, at time.Time, driftMs int64) {
			t.Helper()
			w.report(t, "health-"+dock, dock, at, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "FREE",
				Firmware: "2.0", Officer: "o-1", DockedAt: at, DockClock: at, DeviceClock: at.Add(time.Duration(driftMs) * time.Millisecond),
				ClockOffsetMs: driftMs, ClockSet: true, Battery: wire.Battery{Percent: 50, HealthPct: 95},
				Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
		}
		// The segments start at 02:01 UTC on 30 November (footageVia).
		docked1 := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
		docked2 := docked1.Add(time.Hour)
		docking("dock-1", docked1, 0)
		for _, seq := range []uint64{1, 2, 4} {
			w.footage(t, "dock-1", "FREE", seq, "o-1", "", []byte(fmt.Sprintf("FREE/%d, unit one's footage", seq)))
		}
		docking("dock-2", docked2, 60_000)
		e := analysis.New(analysis.Config{Clock: clockwork.NewFakeClockAt(docked2.Add(time.Hour))}, w.st, nil, nil, nil,
			slog.New(slog.DiscardHandler))
		if _, err := e.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		alertOf := func(key, unit string) int64 {
			t.Helper()
			a, ok, err := w.st.AlertByKey(ctx, key)
			if err != nil || !ok {
				t.Fatalf("alert %s: %v %v", key, ok, err)
			}
			if a.Unit != unit {
				t.Errorf("alert %s went to unit %q, want %q", key, a.Unit, unit)
			}
			return a.ID
		}
		hole := alertOf("sequence-hole/FREE/3-3", "u1")
		drift := alertOf("clock-drift/FREE/"+docked2.Format(time.RFC3339), "u2")

		inbox := func(token string) []store.Alert {
			t.Helper()
			code, body := w.do(t, "GET", "/api/alerts?serial=FREE&state=all", token, nil)
			var got struct{ Alerts []store.Alert }
			if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
				t.Fatalf("inbox: %d %.300s", code, body)
			}
			return got.Alerts
		}
		for _, a := range inbox(tokU2) {
			if a.Seq != 0 || a.Unit != "u2" {
				t.Errorf("u2's inbox holds %s (unit %s, seq %d): want only FREE's own alerts, none about u1's footage", a.Key, a.Unit, a.Seq)
			}
		}
		var keys []string
		for _, a := range inbox(chief) {
			keys = append(keys, a.Key)
		}
		if !slices.Contains(keys, "sequence-hole/FREE/3-3") || slices.Contains(keys, "clock-drift/FREE/"+docked2.Format(time.RFC3339)) {
			t.Errorf("u1's inbox %v: want the hole, not u2's clock drift", keys)
		}
		for _, path := range []string{fmt.Sprintf("/alerts/%d", hole), fmt.Sprintf("/api/alerts/%d", hole)} {
			if code, body := w.do(t, "GET", path, tokU2, nil); code != http.StatusNotFound {
				t.Errorf("u2's supervisor: GET %s = %d %.200s, want 404", path, code, body)
			}
		}
		seqsDrawn := regexp.MustCompile(`data-seq="(\d+)"`)
		page := func(token string, id int64) []string {
			t.Helper()
			code, body := w.do(t, "GET", fmt.Sprintf("/alerts/%d", id), token, nil)
			if code != 200 || !strings.Contains(body, `id="timeline"`) {
				t.Fatalf("GET /alerts/%d = %d %.300s: want the page with its day view", id, code, body)
			}
			var seqs []string
			for _, m := range seqsDrawn.FindAllStringSubmatch(body, -1) {
				seqs = append(seqs, m[1])
			}
			return seqs
		}
		if got := page(tokU2, drift); len(got) != 0 {
			t.Errorf("the day view of u2's clock-drift alert draws FREE's seqs %v: u1's footage", got)
		}
		if got := page(chief, hole); !slices.Equal(got, []string{"1", "2", "4"}) {
			t.Errorf("the day view of u1's hole alert draws seqs %v, want 1, 2, 4", got)
		}
	})
}

// withU2Chief runs f on a console world over SQLite and over PostgreSQL,
// with a supervisor of unit u2 beside the world's u1 chief (tokU2 is its
// API token).
func withU2Chief(t *testing.T, f func(t *testing.T, w *world, tokU2 string)) {
	for _, b := range []struct {
		name string
		open func(t *testing.T) (string, string)
	}{
		{"sqlite", func(*testing.T) (string, string) { return "", "" }},
		{"postgres", pgSchema},
	} {
		t.Run(b.name, func(t *testing.T) {
			dsn, schema := b.open(t)
			w := newWorldOn(t, dsn, schema)
			ctx := context.Background()
			if err := w.dir.Add(ctx, store.Person{Name: "chief-u2", Role: people.RoleSupervisor, Units: []string{"u2"}}, "a long password", "test"); err != nil {
				t.Fatal(err)
			}
			tokU2, err := w.dir.IssueToken(ctx, "chief-u2", "test", 0)
			if err != nil {
				t.Fatal(err)
			}
			f(t, w, tokU2)
		})
	}
}
