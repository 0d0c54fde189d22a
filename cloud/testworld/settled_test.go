package testworld

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// The one Settled predicate: each way a dock can be not yet finished keeps
// it false; a finished dock whose last state report at the collector shows
// no backlog makes it true.
func TestSettled(t *testing.T) {
	ctx := context.Background()
	cs, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := cs.EnrollDock(ctx, "dock-1", "unit-1", "a-long-random-dock-token"); err != nil {
		t.Fatal(err)
	}
	report := func(id string, at time.Time, st wire.DockState) {
		t.Helper()
		env, err := wire.NewEnvelope(id, "dock-1", at, wire.TypeDockState, st)
		if err != nil {
			t.Fatal(err)
		}
		body, err := wire.DecodeBody(env)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.Commit(ctx, []store.Incoming{{Env: env, Body: body}}); err != nil {
			t.Fatal(err)
		}
	}
	safe := localapi.Slot{State: wire.SlotReleased, Segments: 2, Copied: 2, Uploaded: 2, Released: 2, BytesTotal: 10, BytesCopied: 10}
	hole := localapi.Slot{State: wire.SlotFault, Fault: slot.FaultSequenceHole, Segments: 2, Copied: 2, Uploaded: 2, BytesTotal: 10, BytesCopied: 10}
	status := func(mod func(*localapi.Status)) localapi.Status {
		st := localapi.Status{Dock: "dock-1", Slots: []localapi.Slot{safe, hole}}
		if mod != nil {
			mod(&st)
		}
		return st
	}
	cases := []struct {
		name string
		st   localapi.Status
		want bool
	}{
		{"finished", status(nil), true},
		{"outbox not empty", status(func(st *localapi.Status) { st.OutboxPending = 1 }), false},
		{"backlog", status(func(st *localapi.Status) { st.Backlog.Segments = 1 }), false},
		{"no slots", status(func(st *localapi.Status) { st.Slots = nil }), false},
		{"a slot empty", status(func(st *localapi.Status) { st.Slots[0] = localapi.Slot{State: wire.SlotEmpty} }), false},
		{"a slot copying", status(func(st *localapi.Status) { st.Slots[0].State = wire.SlotCopying }), false},
		{"a link fault (a new session comes)", status(func(st *localapi.Status) { st.Slots[1].Fault = slot.FaultLink }), false},
		{"a receipt timeout", status(func(st *localapi.Status) { st.Slots[1].Fault = slot.FaultOffline }), false},
		{"a fault still copying", status(func(st *localapi.Status) { st.Slots[1].BytesCopied = 5 }), false},
		{"a fault still uploading", status(func(st *localapi.Status) { st.Slots[1].Uploaded = 1 }), false},
		{"another dock", status(func(st *localapi.Status) { st.Dock = "dock-2" }), false},
	}
	// Before any state report the collector has not seen the end.
	if Settled(ctx, status(nil), cs) {
		t.Fatal("settled before the collector holds a state report")
	}
	at := time.Now().UTC()
	report("m-1", at, wire.DockState{State: wire.DockOnline, Slots: 2, BacklogSegments: 1, OldestBacklog: at})
	if Settled(ctx, status(nil), cs) {
		t.Fatal("settled while the collector's last report shows a backlog")
	}
	report("m-2", at.Add(time.Second), wire.DockState{State: wire.DockOnline, Slots: 2})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Settled(ctx, c.st, cs); got != c.want {
				t.Fatalf("Settled = %v, want %v", got, c.want)
			}
		})
	}
}
