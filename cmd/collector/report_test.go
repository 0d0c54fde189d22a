package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdock/berth/cloud/store"
)

func TestReportCommand(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "c.db")
	st, err := store.Open(ctx, db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--db", db, "--unit", "unit-3", "--week", "2026-W48", "--csv"}, 0,
			"unit,week,officer,recordings,segments,interruptions,explained,explained_pct,late,late_pct,holes,acknowledged,mean_ack_hours\nunit-3,2026-W48,(unit total),0,0,0,0,100.0,0,0.0,0,0,0.0\n"},
		{[]string{"--db", db, "--unit", "unit-3", "--week", "2026-W48"}, 0, "(unit total)"},
		{[]string{"--db", db, "--unit", "unit-3", "--week", "2026-W48", "--json"}, 0, `"total":true`},
		{[]string{"--db", db, "--unit", "unit-3", "--week", "48"}, 2, ""},
		{[]string{"--db", db, "--week", "2026-W48"}, 2, ""},
	} {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"report"}, tc.args...), &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("report %v: code %d\n%s%s", tc.args, code, out.String(), errb.String())
		}
	}
}
