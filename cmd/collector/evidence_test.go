package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

func TestEvidenceAccessAndHolds(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, evDir := filepath.Join(dir, "c.db"), filepath.Join(dir, "evidence")
	st, err := store.Open(ctx, db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 22, 14, 0, 0, time.UTC)
	for i, v := range []string{"chief-wang", "li", "chief-wang"} {
		if err := st.RecordAccess(ctx, store.FootageAccess{At: at.Add(time.Duration(i) * time.Hour), Viewer: v, Role: "supervisor",
			ObjectID: "obj-" + string(rune('a'+i)), Action: "view", Granted: true, Remote: "10.1.2.3:4567"}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	ev, err := evidence.OpenFS(evDir, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("footage")
	s := sha256.Sum256(b)
	sum := hex.EncodeToString(s[:])
	const up = "00112233445566778899aabbccddeeff"
	if _, err := ev.Begin(ctx, up, int64(len(b)), sum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Append(ctx, up, 0, bytes.NewReader(b), int64(len(b)), sum); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Commit(ctx, up, sum, int64(len(b))); err != nil {
		t.Fatal(err)
	}

	runIt := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"evidence"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		out     string // in stdout (or stderr when code != 0)
		without string // not in stdout
	}{
		{"access by viewer", []string{"access", "--db", db, "--viewer", "chief-wang"}, 0, "2 accesses", "obj-b"},
		{"access window", []string{"access", "--db", db, "--since", "2026-11-30T22:30:00Z"}, 0, "obj-b", "obj-a"},
		{"bad time", []string{"access", "--db", db, "--since", "yesterday"}, 2, "cannot parse", ""},
		{"hold by an auxiliary", []string{"hold", sum, "--db", db, "--evidence", evDir, "--by", "zhao", "--role", "auxiliary", "--reason", "x"}, 1, "not permitted", ""},
		{"hold without a reason", []string{"hold", sum, "--db", db, "--evidence", evDir, "--by", "chief-wang", "--role", "supervisor"}, 1, "reason", ""},
		{"hold without an object", []string{"hold", "--db", db, "--by", "chief-wang", "--role", "supervisor", "--reason", "x"}, 2, "which object", ""},
		{"hold", []string{"hold", sum, "--db", db, "--evidence", evDir, "--by", "chief-wang", "--role", "supervisor", "--reason", "complaint 17"}, 0, "enforced by the application", ""},
		{"lift", []string{"lift-hold", sum, "--db", db, "--evidence", evDir, "--by", "admin-1", "--role", "admin", "--reason", "closed"}, 0, "lifted", ""},
		{"history", []string{"holds", sum, "--db", db}, 0, "complaint 17", ""},
		{"find nothing", []string{"find", "--db", db, "--case", "case-1"}, 0, "0 segments", ""},
		{"link an unknown segment", []string{"link", "R1", "7", "--db", db, "--evidence", evDir, "--case", "case-1", "--by", "o-1", "--role", "officer", "--reason", "x"}, 1, "not found", ""},
		{"link by an auxiliary", []string{"link", "R1", "7", "--db", db, "--evidence", evDir, "--case", "case-1", "--by", "z", "--role", "auxiliary", "--reason", "x"}, 1, "not permitted", ""},
		{"link without seq", []string{"link", "R1", "--db", db, "--case", "case-1"}, 2, "SERIAL SEQ", ""},
		{"retention apply", []string{"retention", "apply", "--db", db, "--evidence", evDir}, 0, "enforced by the application", ""},
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
	dir := t.TempDir()
	db, evDir, keyFile := filepath.Join(dir, "c.db"), filepath.Join(dir, "evidence"), filepath.Join(dir, "receipt.key")
	key, err := collector.LoadOrCreateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := evidence.OpenFS(evDir, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("original footage")
	s := sha256.Sum256(b)
	sum := hex.EncodeToString(s[:])
	const up = "00112233445566778899aabbccddeeff"
	if _, err := ev.Begin(ctx, up, int64(len(b)), sum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Append(ctx, up, 0, bytes.NewReader(b), int64(len(b)), sum); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Commit(ctx, up, sum, int64(len(b))); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	r := wire.Receipt{ObjectID: sum, Device: "R1", Seq: 5, SHA256: sum, Size: int64(len(b)), StoredAt: time.Now().UTC()}
	r.Sign(wire.KeyID(key.Public().(ed25519.PublicKey)), key)
	if err := st.RecordReceipt(ctx, r); err != nil {
		t.Fatal(err)
	}
	st.Close()
	pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	out := filepath.Join(dir, "package")
	common := []string{"--db", db, "--evidence", evDir, "--signing-key", keyFile}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"request", []string{"request", "R1:5", "--unit", "unit-7", "--to", "county prosecutor", "--purpose", "trial", "--by", "o-1", "--role", "officer"}, 0, "export 1 requested"},
		{"approve by the requester", []string{"approve", "1", "--by", "o-1", "--role", "supervisor", "--unit", "unit-7"}, 1, "not permitted"},
		{"package unapproved", []string{"package", "1", "--out", out, "--by", "clerk", "--role", "custodian"}, 1, "requested"},
		{"approve", []string{"approve", "1", "--by", "chief", "--role", "supervisor", "--unit", "unit-7"}, 0, "approved by chief"},
		{"package", []string{"package", "1", "--out", out, "--by", "clerk", "--role", "custodian"}, 0, "1 originals"},
		{"show", []string{"show", "1"}, 0, "packaged"},
		{"verify", []string{"verify", out, "--key", pub}, 0, "export 1 verifies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o, e bytes.Buffer
			code := run(ctx, append(append([]string{"evidence", "export"}, tc.args...), common...), &o, &e)
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
