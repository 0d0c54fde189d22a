package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/console"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// custodyWorld is a store with R1's segment 5 in evidence (reported by
// dock-1 of unit-7), the collector's API over it as `collector serve`
// mounts it, and people of unit-7 with API tokens (files).
type custodyWorld struct {
	db, evDir, server, sum string
	key                    ed25519.PrivateKey
	tokens                 map[string]string // name -> token file
}

func newCustodyWorld(t *testing.T) *custodyWorld {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w := &custodyWorld{db: filepath.Join(dir, "c.db"), evDir: filepath.Join(dir, "evidence"), tokens: map[string]string{}}
	var err error
	if w.key, err = collector.LoadOrCreateKey(filepath.Join(dir, "receipt.key")); err != nil {
		t.Fatal(err)
	}
	ev, err := evidence.OpenFS(w.evDir, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("original footage")
	s := sha256.Sum256(b)
	w.sum = hex.EncodeToString(s[:])
	const up = "00112233445566778899aabbccddeeff"
	if _, err := ev.Begin(ctx, up, int64(len(b)), w.sum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Append(ctx, up, 0, bytes.NewReader(b), int64(len(b)), w.sum); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Commit(ctx, up, w.sum, int64(len(b))); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, w.db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.EnrollDock(ctx, "dock-1", "unit-7", "a-token-of-16-chars"); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	m := &wire.SegmentManifest{Serial: "R1", Seq: 5, Start: start, End: start.Add(time.Minute), Size: int64(len(b)), SHA256: w.sum,
		StopCause: wire.StopAutoSplit, Officer: "o-1", CaseTag: "case-0", Media: "h264/aac", ClockSyncedAt: start, State: wire.SegBuffered}
	env, err := wire.NewEnvelope("m1", "dock-1", start, wire.TypeSegmentManifest, m)
	if err != nil {
		t.Fatal(err)
	}
	body, err := wire.DecodeBody(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, []store.Incoming{{Env: env, Body: body}}); err != nil {
		t.Fatal(err)
	}
	r := wire.Receipt{ObjectID: w.sum, Device: "R1", Seq: 5, SHA256: w.sum, Size: int64(len(b)), StoredAt: time.Now().UTC()}
	r.Sign(wire.KeyID(w.key.Public().(ed25519.PublicKey)), w.key)
	if err := st.RecordReceipt(ctx, r); err != nil {
		t.Fatal(err)
	}
	ppl, err := people.New(st, people.Opts{Hasher: &people.Hasher{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]string{"chief": people.RoleSupervisor, "o-1": people.RoleOfficer, "zhao": people.RoleAuxiliary,
		"admin-1": people.RoleAdmin} {
		if err := ppl.Add(ctx, store.Person{Name: name, Role: role, Units: []string{"unit-7"}}, "a long password", "test"); err != nil {
			t.Fatal(err)
		}
		tok, err := ppl.IssueToken(ctx, name, "test", 0)
		if err != nil {
			t.Fatal(err)
		}
		w.tokens[name] = filepath.Join(dir, name+".token")
		os.WriteFile(w.tokens[name], []byte(tok+"\n"), 0o600)
	}
	con, err := console.New(console.Opts{Store: st, People: ppl, Footage: ev, Log: discardLogger(),
		Custody: &console.Custody{Evidence: ev, Key: w.key, ExportDir: filepath.Join(dir, "exports")}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(con.Handler())
	t.Cleanup(srv.Close)
	w.server = srv.URL
	return w
}

func TestEvidenceAccessAndHolds(t *testing.T) {
	ctx := context.Background()
	w := newCustodyWorld(t)
	db := w.db
	st, err := store.Open(ctx, db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	// Two views of R1/5 (unit-7's footage), one of an object of no unit.
	at := time.Date(2026, 11, 30, 22, 14, 0, 0, time.UTC)
	for i, a := range []struct{ viewer, object string }{{"chief-wang", w.sum}, {"li", "obj-elsewhere"}, {"chief-wang", w.sum}} {
		if err := st.RecordAccess(ctx, store.FootageAccess{At: at.Add(time.Duration(i) * time.Hour), Viewer: a.viewer, Role: "supervisor",
			ObjectID: a.object, Action: "view", Granted: true, Remote: "10.1.2.3:4567"}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	runIt := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"evidence"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	api := func(who string) []string { return []string{"--server", w.server, "--token-file", w.tokens[who]} }
	with := func(a []string, b ...string) []string { return append(append([]string{}, a...), b...) }
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		out     string // in stdout (or stderr when code != 0)
		without string // not in stdout
	}{
		{"access by viewer", with([]string{"access", "--viewer", "chief-wang"}, api("chief")...), 0, "2 accesses", "obj-elsewhere"},
		{"access of the supervisor's units", with([]string{"access"}, api("chief")...), 0, "2 accesses", "obj-elsewhere"},
		{"access, all for an admin", with([]string{"access"}, api("admin-1")...), 0, "3 accesses", ""},
		{"access of a unit", with([]string{"access", "--unit", "unit-7"}, api("admin-1")...), 0, "2 accesses", "obj-elsewhere"},
		{"access of another unit", with([]string{"access", "--unit", "unit-9"}, api("chief")...), 1, "outside your units", ""},
		{"access by an auxiliary", with([]string{"access"}, api("zhao")...), 1, "403", ""},
		{"access window", with([]string{"access", "--since", "2026-11-30T23:30:00Z", "--json"}, api("admin-1")...), 0, `"viewer":"chief-wang"`, "li"},
		{"access without a token", []string{"access", "--server", w.server}, 2, "token", ""},
		{"bad time", with([]string{"access", "--since", "yesterday"}, api("chief")...), 2, "cannot parse", ""},
		{"--by is gone", with([]string{"hold", "R1", "5", "--by", "chief", "--reason", "x"}, api("chief")...), 2, "by", ""},
		{"hold without a token", []string{"hold", "R1", "5", "--server", w.server, "--reason", "x"}, 2, "token", ""},
		{"hold by an auxiliary", with([]string{"hold", "R1", "5", "--reason", "x"}, api("zhao")...), 1, "403", ""},
		{"hold by an officer", with([]string{"hold", "R1", "5", "--reason", "x"}, api("o-1")...), 1, "not permitted", ""},
		{"hold without a reason", with([]string{"hold", "R1", "5"}, api("chief")...), 1, "reason", ""},
		{"hold without a segment", []string{"hold", "--reason", "x"}, 2, "SERIAL SEQ", ""},
		{"hold", with([]string{"hold", "R1", "5", "--reason", "complaint 17"}, api("chief")...), 0, "set by chief; enforced by the application", ""},
		{"lift", with([]string{"lift-hold", "R1", "5", "--reason", "closed"}, api("admin-1")...), 0, "lifted by admin-1", ""},
		{"history", with([]string{"holds", "R1", "5"}, api("chief")...), 0, "complaint 17", ""},
		{"history by an auxiliary", with([]string{"holds", "R1", "5"}, api("zhao")...), 1, "403", ""},
		{"find nothing", with([]string{"find", "--case", "case-1"}, api("chief")...), 0, "0 segments", ""},
		{"link an unknown segment", with([]string{"link", "R1", "7", "--case", "case-1", "--reason", "x"}, api("o-1")...), 1, "no segment R1/7", ""},
		{"link by an auxiliary", with([]string{"link", "R1", "5", "--case", "case-1", "--reason", "x"}, api("zhao")...), 1, "not permitted", ""},
		{"link without seq", []string{"link", "R1", "--case", "case-1"}, 2, "SERIAL SEQ", ""},
		{"link", with([]string{"link", "R1", "5", "--case", "case-1", "--type", "complaint", "--reason", "filed"}, api("o-1")...), 0, "linked to case case-1 by o-1", ""},
		{"find the linked case", with([]string{"find", "--case", "case-1"}, api("chief")...), 0, "1 segments", ""},
		{"find by unit", with([]string{"find", "--unit", "unit-7", "--json"}, api("chief")...), 0, `"serial":"R1"`, ""},
		{"find in pages", with([]string{"find", "--limit", "1", "--recorder", "R1"}, api("admin-1")...), 0, "1 segments", ""},
		{"find outside the units", with([]string{"find", "--unit", "unit-9"}, api("chief")...), 1, "outside your units", ""},
		{"find by an officer", with([]string{"find", "--case", "case-1"}, api("o-1")...), 1, "403", ""},
		{"retention apply", []string{"retention", "apply", "--db", db, "--evidence", w.evDir}, 0, "enforced by the application", ""},
		{"retention without apply", []string{"retention", "--db", db}, 2, "which object", ""},
		{"retention other", []string{"retention", "shorten", "--db", db}, 2, "unknown action", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runIt(tc.args...)
			where := out
			if tc.code != 0 {
				where = errOut
			}
			if code != tc.code || !strings.Contains(where, tc.out) || tc.without != "" && strings.Contains(out, tc.without) {
				t.Fatalf("code %d (want %d)\n%s%s", code, tc.code, out, errOut)
			}
		})
	}
}

func TestEvidenceExportCLI(t *testing.T) {
	ctx := context.Background()
	w := newCustodyWorld(t)
	pub := base64.StdEncoding.EncodeToString(w.key.Public().(ed25519.PublicKey))
	out := filepath.Join(t.TempDir(), "package")
	api := func(who string) []string { return []string{"--server", w.server, "--token-file", w.tokens[who]} }
	for _, tc := range []struct {
		name string
		args []string
		who  string
		code int
		want string
	}{
		{"request by an auxiliary", []string{"request", "R1:5", "--to", "county prosecutor", "--purpose", "trial"}, "zhao", 1, "rule 6"},
		{"request", []string{"request", "R1:5", "--to", "county prosecutor", "--purpose", "trial"}, "o-1", 0, "export 1 requested: 1 segments of unit unit-7"},
		{"approve by an officer", []string{"approve", "1"}, "o-1", 1, "not permitted"},
		{"package unapproved", []string{"package", "1", "--out", out}, "o-1", 1, "requested"},
		{"approve", []string{"approve", "1"}, "chief", 0, "approved by chief"},
		{"package", []string{"package", "1", "--out", out}, "o-1", 0, "1 originals"},
		{"show", []string{"show", "1"}, "chief", 0, "packaged"},
		{"verify", []string{"verify", out, "--key", pub}, "", 0, "export 1 verifies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o, e bytes.Buffer
			args := append([]string{"evidence", "export"}, tc.args...)
			if tc.who != "" {
				args = append(args, api(tc.who)...)
			}
			code := run(ctx, args, &o, &e)
			where := o.String()
			if tc.code != 0 {
				where = e.String()
			}
			if code != tc.code || !strings.Contains(where, tc.want) {
				t.Fatalf("code %d (want %d)\n%s%s", code, tc.code, o.String(), e.String())
			}
		})
	}
}
