package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/store"
)

func TestAlertsListAckClose(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "c.db")
	st, err := store.Open(ctx, db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 22, 14, 0, 0, time.UTC)
	if _, err := st.UpsertAlert(ctx, store.Alert{Key: "interruption/R1/7", Kind: "interruption-unexplained", Severity: "warning",
		Unit: "unit-3", Officer: "o-1001", Serial: "R1", Seq: 7, Title: "resumed without a spoken reason", At: at}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	runIt := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"alerts"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errOut := runIt("--db", db)
	if code != 0 || !strings.Contains(out, "resumed without a spoken reason") || !strings.Contains(out, "R1 #7") || !strings.Contains(out, "1 alerts") {
		t.Fatalf("list: code %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runIt("list", "--db", db, "--json", "--state", "open")
	var a store.Alert
	if code != 0 || json.Unmarshal([]byte(strings.TrimSpace(out)), &a) != nil || a.State != store.AlertOpen {
		t.Fatalf("json list: code %d %q", code, out)
	}
	if code, _, errOut := runIt("ack", "--db", db, "--by", "chief-li"); code != 2 || !strings.Contains(errOut, "alert") {
		t.Fatalf("ack without id: code %d %q", code, errOut)
	}
	if code, _, errOut := runIt("ack", "999", "--db", db, "--by", "chief-li", "--comment", "x"); code != 1 || !strings.Contains(errOut, "no alert 999") {
		t.Fatalf("ack unknown: code %d %q", code, errOut)
	}
	if code, _, errOut := runIt("ack", strconvI(a.ID), "--db", db, "--by", "chief-li"); code != 2 || !strings.Contains(errOut, "--comment") {
		t.Fatalf("ack without comment: code %d %q", code, errOut)
	}
	if code, out, errOut := runIt("ack", strconvI(a.ID), "--db", db, "--by", "chief-li", "--comment", "battery died; explained in writing"); code != 0 || !strings.Contains(out, "acknowledged") {
		t.Fatalf("ack: code %d %q %q", code, out, errOut)
	}
	code, out, _ = runIt("--db", db, "--json")
	json.Unmarshal([]byte(strings.TrimSpace(out)), &a)
	if code != 0 || a.State != store.AlertAcknowledged || a.AcknowledgedBy != "chief-li" || a.Comment != "battery died; explained in writing" {
		t.Fatalf("after ack: %+v", a)
	}
	if code, _, errOut := runIt("close", strconvI(a.ID), "--db", db, "--by", "chief-li"); code != 0 {
		t.Fatalf("close: %d %s", code, errOut)
	}
	if code, out, _ := runIt("--db", db, "--state", "open"); code != 0 || !strings.Contains(out, "0 alerts") {
		t.Fatalf("open after close: %s", out)
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
