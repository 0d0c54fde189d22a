package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/console"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
)

func TestAlertsListAckClose(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	st, err := store.Open(ctx, db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := time.Date(2026, 11, 30, 22, 14, 0, 0, time.UTC)
	if _, err := st.UpsertAlert(ctx, store.Alert{Key: "interruption/R1/7", Kind: "interruption-unexplained", Severity: "warning",
		Unit: "unit-3", Officer: "o-1001", Serial: "R1", Seq: 7, Title: "resumed without a spoken reason", At: at}); err != nil {
		t.Fatal(err)
	}
	// The collector's API, as `collector serve` mounts it.
	ev, err := evidence.OpenFS(filepath.Join(dir, "evidence"), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	ppl, err := people.New(st, people.Opts{})
	if err != nil {
		t.Fatal(err)
	}
	con, err := console.New(console.Opts{Store: st, People: ppl, Footage: ev, Log: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(con.Handler())
	t.Cleanup(srv.Close)

	runIt := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, args, &out, &errb)
		return code, out.String(), errb.String()
	}
	// People and their tokens, with the CLI.
	token := func(name, role string) string {
		t.Helper()
		pw := filepath.Join(dir, name+".pw")
		os.WriteFile(pw, []byte("a long password\n"), 0o600)
		if code, _, errOut := runIt("user", "add", name, "--role", role, "--unit", "unit-3", "--password-file", pw, "--db", db); code != 0 {
			t.Fatalf("user add %s: %d %s", name, code, errOut)
		}
		code, out, errOut := runIt("user", "token", name, "--label", "test", "--db", db)
		if code != 0 || !strings.HasPrefix(out, people.TokenPrefix) {
			t.Fatalf("user token %s: %d %q %s", name, code, out, errOut)
		}
		f := filepath.Join(dir, name+".token")
		os.WriteFile(f, []byte(out), 0o600)
		return f
	}
	chief, aux := token("chief-li", people.RoleSupervisor), token("aux-chen", people.RoleAuxiliary)
	if code, _, errOut := runIt("user", "add", "nobody", "--role", "boss", "--unit", "unit-3", "--db", db); code != 1 || !strings.Contains(errOut, "role") {
		t.Fatalf("user add with an unknown role: %d %s", code, errOut)
	}

	code, out, errOut := runIt("alerts", "--db", db)
	if code != 0 || !strings.Contains(out, "resumed without a spoken reason") || !strings.Contains(out, "R1 #7") || !strings.Contains(out, "1 alerts") {
		t.Fatalf("list: code %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runIt("alerts", "list", "--db", db, "--json", "--state", "open")
	var a store.Alert
	if code != 0 || json.Unmarshal([]byte(strings.TrimSpace(out)), &a) != nil || a.State != store.AlertOpen {
		t.Fatalf("json list: code %d %q", code, out)
	}
	id := strconvI(a.ID)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no id", []string{"ack", "--token-file", chief, "--comment", "x"}, 2, "alert"},
		{"no token", []string{"ack", id, "--comment", "x"}, 2, "token"},
		{"no comment", []string{"ack", id, "--token-file", chief}, 2, "--comment"},
		{"--by is gone", []string{"ack", id, "--by", "anyone", "--comment", "x"}, 2, "by"},
		{"unknown alert", []string{"ack", "999", "--token-file", chief, "--comment", "x"}, 1, "no alert 999"},
		{"bad token", []string{"ack", id, "--token-file", filepath.Join(dir, "chief-li.pw"), "--comment", "x"}, 1, "401"},
		{"auxiliary closes", []string{"close", id, "--token-file", aux}, 1, "supervisor"},
		{"supervisor acknowledges", []string{"ack", id, "--token-file", chief, "--comment", "battery died; explained in writing"}, 0, "acknowledged by chief-li"},
		{"a second acknowledgement", []string{"ack", id, "--token-file", chief, "--comment", "amended"}, 0, "acknowledged by chief-li"},
		{"auxiliary explains", []string{"explain", id, "--token-file", aux, "--comment", "the recorder was handed in damaged"}, 0, "explained by aux-chen"},
		{"supervisor closes", []string{"close", id, "--token-file", chief}, 0, "closed by chief-li"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runIt(append([]string{"alerts", tc.args[0]}, append(tc.args[1:], "--server", srv.URL)...)...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("code %d, want %d; output %q %q, want %q", code, tc.code, out, errOut, tc.want)
			}
		})
	}
	code, out, _ = runIt("alerts", "--db", db, "--json", "--state", "closed")
	json.Unmarshal([]byte(strings.TrimSpace(out)), &a)
	if code != 0 || a.AcknowledgedBy != "chief-li" || a.Comment != "battery died; explained in writing" || a.ClosedBy != "chief-li" {
		t.Fatalf("after ack and close: %+v", a)
	}
	hist, err := st.AlertHistory(ctx, a.ID)
	if err != nil || len(hist) != 4 || hist[2].By != "aux-chen" || hist[2].Role != people.RoleAuxiliary {
		t.Errorf("history %+v %v", hist, err)
	}
}

func strconvI(v int64) string { b, _ := json.Marshal(v); return string(b) }

// TestAlertsJSONSnakeCase: `collector alerts --json` prints the wire's
// snake_case names (package alert's), never Go field names.
func TestAlertsJSONSnakeCase(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "c.db")
	st, err := store.Open(ctx, db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 22, 14, 0, 0, time.UTC)
	const key = "interruption/R1/7"
	if _, err := st.UpsertAlert(ctx, store.Alert{Key: key, Kind: "interruption-unexplained", Severity: "warning",
		Unit: "unit-3", Officer: "o-1001", Serial: "R1", Seq: 7, Dock: "dock-1", Title: "resumed without a spoken reason", At: at,
		Evidence: json.RawMessage(`{"stop_cause":"low-battery"}`)}); err != nil {
		t.Fatal(err)
	}
	a, _, err := st.AlertByKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AckAlert(ctx, a.ID, "chief-li", "explained in writing"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"alerts", "--db", db, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &m); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for k := range m {
		if !snakeCase(k) {
			t.Errorf("key %q is not snake_case", k)
		}
	}
	for _, k := range []string{"id", "key", "kind", "severity", "unit", "officer", "serial", "seq", "dock", "title", "at",
		"state", "opened", "updated_at", "acknowledged_by", "acknowledged_at", "comment", "escalation", "evidence"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing: %s", k, out.String())
		}
	}
	if string(m["state"]) != `"acknowledged"` || string(m["acknowledged_by"]) != `"chief-li"` {
		t.Errorf("state %s by %s", m["state"], m["acknowledged_by"])
	}
}

func snakeCase(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
