package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/store"
)

func TestEnroll(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	runIt := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"enroll"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	key := base64.StdEncoding.EncodeToString(pub)
	tokFile := filepath.Join(dir, "dock-a.token")

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"unit", "--db", db, "--id", "u-a", "--custodian", "cust-1"}, 2, "--by is required"},
		{[]string{"recorder", "--db", db, "--serial", "REC-A", "--unit", "u-a", "--key", key, "--by", "admin-1"}, 2, "not enrolled"},
		{[]string{"unit", "--db", db, "--id", "u-a", "--custodian", "cust-1", "--by", "admin-1"}, 0, "unit u-a enrolled"},
		{[]string{"dock", "--db", db, "--id", "dock-a", "--unit", "u-a", "--token-file", tokFile, "--by", "admin-1"}, 0, "  token_file: " + tokFile},
		{[]string{"recorder", "--db", db, "--serial", "REC-A", "--unit", "u-a", "--key", "bm90IGEga2V5", "--by", "admin-1"}, 2, "Ed25519"},
		{[]string{"recorder", "--db", db, "--serial", "REC-A", "--unit", "u-a", "--key", key, "--by", "admin-1"}, 0, "recorder REC-A enrolled"},
		{[]string{"list", "--db", db}, 0, "recorder  REC-A"},
	} {
		code, out, errs := runIt(tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("enroll %v = %d, out %q err %q; want %d and %q", tc.args, code, out, errs, tc.code, tc.want)
		}
	}
	// The dock's recorder key list, provisioned from the registry, in the
	// format dockd loads.
	keys := filepath.Join(dir, "recorders.json")
	if code, _, errs := runIt("export", "--db", db, "--unit", "u-a", "--out", keys); code != 0 {
		t.Fatalf("export: %d %s", code, errs)
	}
	got, err := dock.LoadEnrolled(keys)
	if err != nil || len(got) != 1 || !got["REC-A"].Equal(pub) {
		t.Fatalf("exported keys %v %v", got, err)
	}
	fi, err := os.Stat(tokFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	st, err := store.Open(ctx, db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, _ := os.ReadFile(tokFile)
	if ok, err := st.CheckDockToken(ctx, "dock-a", strings.TrimSpace(string(tok))); !ok || err != nil {
		t.Errorf("the token written for dock-a is not its enrolled token: %v %v", ok, err)
	}
	a, err := st.RecorderAccess(ctx, "dock-a", "REC-A")
	if err != nil || !a.Allowed {
		t.Errorf("dock-a may not handle its unit's REC-A: %+v %v", a, err)
	}

	// The printed fragment is dockd configuration, with the key docks trust.
	keyFile := filepath.Join(dir, "receipt.key")
	signer, err := collector.LoadOrCreateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runIt("dock", "--db", db, "--id", "dock-a", "--unit", "u-a", "--token-file", tokFile, "--receipt-key", keyFile, "--by", "admin-1")
	if code != 0 {
		t.Fatalf("re-enrol with key: %d %s", code, errs)
	}
	var dc dock.Config
	dec := yaml.NewDecoder(strings.NewReader(out))
	dec.KnownFields(true)
	if err := dec.Decode(&dc); err != nil {
		t.Fatalf("fragment is not dockd configuration: %v\n%s", err, out)
	}
	if dc.Dock != "dock-a" || dc.Unit != "u-a" || dc.Collector.TokenFile != tokFile ||
		dc.Collector.PublicKey != base64.StdEncoding.EncodeToString(signer.Public().(ed25519.PublicKey)) {
		t.Fatalf("fragment %+v", dc)
	}

	// A world-readable token file is refused.
	loose := filepath.Join(dir, "loose.token")
	if err := os.WriteFile(loose, []byte("0123456789abcdef0123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runIt("dock", "--db", db, "--id", "dock-b", "--unit", "u-a", "--token-file", loose, "--by", "admin-1"); code != 2 || !strings.Contains(errs, "chmod 600") {
		t.Errorf("loose token file: %d %q", code, errs)
	}
}
