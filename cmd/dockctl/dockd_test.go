package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/localapi"
)

// simBoardDock is dockd on a simulated board, as the local API sees it.
type simBoardDock struct {
	mu      sync.Mutex
	present bool
	sim     bool
}

func (d *simBoardDock) Status() localapi.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := localapi.Slot{Index: 0, Name: "A", State: "empty"}
	if d.present {
		s.State, s.Serial = "copying", "R-1"
	}
	return localapi.Status{Dock: "dock-1", Slots: []localapi.Slot{s}}
}
func (d *simBoardDock) Devices() []localapi.Device                    { return nil }
func (d *simBoardDock) Logs(int) []localapi.LogLine                   { return nil }
func (d *simBoardDock) PowerCycle(context.Context, int, string) error { return nil }
func (d *simBoardDock) Simulate(slot string, present bool, by string) error {
	if !d.sim {
		return localapi.ErrNotSimulated
	}
	if slot != "A" {
		return localapi.ErrNoSlot
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.present = present
	return nil
}

func serveAPI(t *testing.T, d localapi.Dock) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dctl") // unix socket paths are limited to ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dockd.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&localapi.Server{Path: path, Dock: d}).Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; os.RemoveAll(dir) })
	// Ready when it accepts a connection: the socket file appears at bind,
	// before listen, and a dial in between is refused (CI flake).
	for range 250 {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return path
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("local API did not start")
	return ""
}

func TestSimInsertRemove(t *testing.T) {
	d := &simBoardDock{sim: true}
	sock := serveAPI(t, d)
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"sim", "--socket", sock, "insert", "A"}, 0, "slot A: recorder inserted", ""},
		{[]string{"slots", "--socket", sock}, 0, "A     copying", ""},
		{[]string{"sim", "--socket", sock, "remove", "A"}, 0, "slot A: recorder removed", ""},
		{[]string{"sim", "--socket", sock, "insert", "Q"}, 1, "", "no such slot"},
		{[]string{"sim", "--socket", sock, "wiggle", "A"}, 2, "", "usage: dockctl sim"},
		{[]string{"sim", "--socket", sock, "insert"}, 2, "", "usage: dockctl sim"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errb.String(), tc.err) {
			t.Errorf("dockctl %v: exit %d, out %q, err %q; want %d, %q, %q", tc.args, code, out.String(), errb.String(),
				tc.code, tc.out, tc.err)
		}
	}

	real := serveAPI(t, &simBoardDock{})
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"sim", "--socket", real, "insert", "A"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "real hardware") {
		t.Fatalf("sim on real hardware: exit %d, %q", code, errb.String())
	}
}

// faultDock has a slot in a fault, as dockd reports it.
type faultDock struct{ simBoardDock }

func (d *faultDock) Status() localapi.Status {
	return localapi.Status{Dock: "dock-1", Slots: []localapi.Slot{{Index: 1, Name: "B", State: "fault", Serial: "R-2",
		Fault: "hash-mismatch", Detail: "seq 7", FaultClass: "evidence", Next: "keep the recorder docked"}}}
}

func TestSlotsSayWhatToDoNext(t *testing.T) {
	sock := serveAPI(t, &faultDock{})
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"slots", "--socket", sock}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"hash-mismatch: seq 7", "slot B, evidence fault: hash-mismatch", "next: keep the recorder docked"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}

// offerDock has a recorder offered to an officer, and one offer kept
// across a restart, as dockd reports them.
type offerDock struct{ simBoardDock }

var offerTap = time.Date(2026, 12, 5, 7, 58, 0, 0, time.UTC)

func (d *offerDock) Status() localapi.Status {
	return localapi.Status{Dock: "dock-1", Slots: []localapi.Slot{
		{Index: 0, Name: "A", State: "ready", Serial: "R-1", Offer: &localapi.Offer{Officer: "officer-7", Serial: "R-1",
			Since: offerTap, Expires: offerTap.Add(time.Minute)}},
		{Index: 1, Name: "B", State: "identified", Serial: "R-2", Offer: &localapi.Offer{Officer: "officer-8", Serial: "R-2",
			Since: offerTap, Expires: offerTap.Add(2 * time.Minute), Restored: true}},
		{Index: 2, Name: "C", State: "ready", Serial: "R-3"},
	}}
}

// TestStatusShowsOffers: dockctl status and slots name each slot's
// standing checkout offer (officer, recorder, since, expiry, and whether
// it waits for the recorder after a restart), and --json carries it.
func TestStatusShowsOffers(t *testing.T) {
	sock := serveAPI(t, &offerDock{})
	at := func(d time.Duration) string { return offerTap.Add(d).Local().Format(time.TimeOnly) }
	for _, cmd := range []string{"status", "slots"} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{cmd, "--socket", sock}, &out, &errb); code != 0 {
			t.Fatalf("%s: exit %d: %s", cmd, code, errb.String())
		}
		for _, want := range []string{
			"slot A: offered to officer officer-7 (recorder R-1) since " + at(0) + ", expires " + at(time.Minute) + "; its LED shows it",
			"slot B: offered to officer officer-8 (recorder R-2) since " + at(0) + ", expires " + at(2*time.Minute) + "; kept across a dockd restart",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: no %q in:\n%s", cmd, want, out.String())
			}
		}
		if strings.Contains(out.String(), "slot C: offered") {
			t.Errorf("%s: slot C has no offer:\n%s", cmd, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"slots", "--json", "--socket", sock}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var slots []localapi.Slot
	if err := json.Unmarshal(out.Bytes(), &slots); err != nil {
		t.Fatal(err)
	}
	if len(slots) != 3 || slots[0].Offer == nil || slots[0].Offer.Officer != "officer-7" || !slots[0].Offer.Expires.Equal(offerTap.Add(time.Minute)) ||
		slots[1].Offer == nil || !slots[1].Offer.Restored || slots[2].Offer != nil {
		t.Errorf("--json slots: %s", out.String())
	}
}
