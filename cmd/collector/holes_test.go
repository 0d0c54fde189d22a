package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/console"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// commandLog records the commands the collector sends to docks.
type commandLog struct {
	mu   sync.Mutex
	cmds []wire.Command
	to   []string
}

func (c *commandLog) SendCommand(_ context.Context, dock string, cmd wire.Command) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cmds, c.to = append(c.cmds, cmd), append(c.to, dock)
	return fmt.Sprintf("cmd-%d", len(c.cmds)), nil
}

// `collector holes release` records a supervisor's decision through the
// API and the dock that last docked the recorder is told, with the range,
// who and why.
func TestHolesRelease(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	st, err := store.Open(ctx, db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.EnrollDock(ctx, "dock-1", "unit-3", "a-token-of-16-chars"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 22, 14, 0, 0, time.UTC)
	e, _ := wire.NewEnvelope("h1", "dock-1", at, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "R1", Firmware: "2.4.1", DockedAt: at,
		DockClock: at, DeviceClock: at, ClockSet: true, Battery: wire.Battery{Percent: 50, HealthPct: 95},
		Storage: wire.Storage{TotalBytes: 100, FreeBytes: 90, HealthPct: 100}})
	b, err := wire.DecodeBody(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, []store.Incoming{{Env: e, Body: b}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertAlert(ctx, store.Alert{Key: "sequence-hole/R1/3-4", Kind: "sequence-hole", Severity: "critical", Unit: "unit-3",
		Serial: "R1", Seq: 3, Title: "hole", At: at}); err != nil {
		t.Fatal(err)
	}
	ev, err := evidence.OpenFS(filepath.Join(dir, "evidence"), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	ppl, err := people.New(st, people.Opts{})
	if err != nil {
		t.Fatal(err)
	}
	sent := &commandLog{}
	con, err := console.New(console.Opts{Store: st, People: ppl, Footage: ev, Log: discardLogger(), Commands: sent})
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
	if err := ppl.Add(ctx, store.Person{Name: "chief-li", Role: people.RoleSupervisor, Units: []string{"unit-3"}}, "a long password", "test"); err != nil {
		t.Fatal(err)
	}
	tok, err := ppl.IssueToken(ctx, "chief-li", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(dir, "chief.token")
	os.WriteFile(tf, []byte(tok), 0o600)

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no reason", []string{"holes", "release", "--recorder", "R1", "--token-file", tf, "--server", srv.URL}, 2, "--reason"},
		{"no token", []string{"holes", "release", "--recorder", "R1", "--reason", "x", "--server", srv.URL}, 2, "token"},
		{"unknown recorder", []string{"holes", "release", "--recorder", "R7", "--reason", "x", "--token-file", tf, "--server", srv.URL}, 1, "no recorder R7"},
		{"decided", []string{"holes", "release", "--recorder", "R1", "--reason", "dropped in the river", "--token-file", tf, "--server", srv.URL}, 0,
			"release around missing seq 3..4 decided by chief-li; sent to dock dock-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("BERTH_TOKEN", "")
			code, out, errOut := runIt(tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("%v: %d %s%s; want %d with %q", tc.args, code, out, errOut, tc.code, tc.want)
			}
		})
	}
	want := wire.Command{Action: wire.CmdReleaseHole, Serial: "R1", From: 3, To: 4, By: "chief-li", Reason: "dropped in the river"}
	if len(sent.cmds) != 1 || sent.cmds[0] != want || sent.to[0] != "dock-1" {
		t.Fatalf("sent %+v to %v, want %+v to dock-1", sent.cmds, sent.to, want)
	}
	if err := sent.cmds[0].Validate(); err != nil {
		t.Fatalf("the dock would refuse it: %v", err)
	}
}
