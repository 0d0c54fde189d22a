package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/berthdock/berth/cloud/console/api"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

func pgDSN() string {
	if v := os.Getenv("BERTH_PG_DSN"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// pgSchema makes a fresh schema on the test PostgreSQL, dropped at
// cleanup, and returns the DSN and the schema; it skips only if the
// server is unreachable and BERTH_REQUIRE_PG is unset.
func pgSchema(t *testing.T) (dsn, schema string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(pgDSN())
	if err != nil {
		t.Fatal(err)
	}
	admin := stdlib.OpenDB(*cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		if os.Getenv("BERTH_REQUIRE_PG") != "" {
			t.Fatalf("PostgreSQL required (BERTH_REQUIRE_PG) but unreachable at %s: %v", pgDSN(), err)
		}
		t.Skipf("PostgreSQL unreachable at %s: %v", pgDSN(), err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema = "berth_console_" + hex.EncodeToString(rnd[:])
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := admin.Exec("CREATE SCHEMA " + ident); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + ident + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return pgDSN(), schema
}

// The footage of a recorder enrolled nowhere is the unit's of the dock
// that uploaded it: a dock of unit u2 that reports the same segment of a
// u1 dock's upload (the same hash and receipt) gives u2's supervisors
// nothing (404, as if it did not exist: search, page, clip, export) and
// takes nothing from u1's; nor does a u2 dock that reported the segment
// before u1's upload was receipted.
func TestUnenrolledFootageFollowsUploader(t *testing.T) {
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
			env, err := wire.NewEnvelope("hostile-1", "dock-2", g.Start.Add(time.Hour), wire.TypeSegmentManifest, m)
			if err != nil {
				t.Fatal(err)
			}
			body, err := wire.DecodeBody(env)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.st.Commit(ctx, []store.Incoming{{Env: env, Body: body}}); err != nil {
				t.Fatal(err)
			}
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
}
