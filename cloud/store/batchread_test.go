package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// TestBatchReadsMatchOneByOne: the analysis' batch reads give each
// recorder what the one-recorder reads give it over its own span (spans
// differ per recorder), leave out recorders with nothing, and refuse a
// recorder named twice.
func TestBatchReadsMatchOneByOne(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		if err := s.EnrollDock(ctx, "dock-1", "unit-3", "token-of-dock-1-0123456789"); err != nil {
			t.Fatal(err)
		}
		d1, d2 := t0.Add(-20*time.Hour), t0.Add(-2*time.Hour) // before the store clock
		first := d1.Add(-4 * time.Hour)
		var msgs []Incoming
		id := 0
		add := func(at time.Time, body wire.Body) {
			id++
			msgs = append(msgs, msg(t, "dock-1", "m"+string(rune('a'+id/26))+string(rune('a'+id%26)), at, body))
		}
		for i, sn := range []string{"R1", "R2"} {
			for _, at := range []time.Time{d1, d2} {
				add(at, health(sn, at))
				add(at, &wire.RecorderEvents{Serial: sn, DockedAt: at, Events: []wire.RecorderEvent{
					{Index: uint64(at.Hour() + 1), Time: at.Add(-time.Hour), Kind: wire.EventRecordStart, Seq: 1}}})
				add(at.Add(time.Minute), &wire.Checkout{Serial: sn, Officer: "o-" + sn, Slot: 2, At: at.Add(time.Minute)})
			}
			// R1 recorded before its first docking, R2 between the two.
			first := first.Add(time.Duration(i) * 5 * time.Hour)
			var inv []wire.InventoryEntry
			for seq := uint64(1); seq <= uint64(4+i); seq++ {
				m := manifest(sn, seq, first.Add(time.Duration(seq)*10*time.Minute), 0)
				add(d1, m)
				inv = append(inv, wire.InventoryEntry{Seq: seq, Start: m.Start, End: m.End, Size: m.Size, SHA256: m.SHA256,
					StopCause: m.StopCause})
			}
			add(d1, &wire.Docking{Serial: sn, DockedAt: d1, Phase: wire.DockingInventory, LastSeq: uint64(5 + i), Part: 1, Parts: 1,
				Segments: inv})
			add(d1, &wire.Docking{Serial: sn, DockedAt: d1, Phase: wire.DockingComplete, LastSeq: uint64(5 + i), Part: 1, Parts: 1})
		}
		commit(t, s, msgs...)
		for _, a := range []Alert{
			{Key: "k/R1/open", Kind: "k", Severity: "warning", Title: "t", Serial: "R1", At: t0},
			{Key: "k/R1/ack", Kind: "k", Severity: "warning", Title: "t", Serial: "R1", At: t0},
			{Key: "k/R2/closed", Kind: "k", Severity: "warning", Title: "t", Serial: "R2", At: t0},
			{Key: "k/R2/open", Kind: "k", Severity: "warning", Title: "t", Serial: "R2", At: t0},
		} {
			if _, err := s.UpsertAlert(ctx, a); err != nil {
				t.Fatal(err)
			}
			got, _, err := s.AlertByKey(ctx, a.Key)
			if err != nil {
				t.Fatal(err)
			}
			switch a.Key {
			case "k/R1/ack":
				err = s.AckAlert(ctx, got.ID, "p-1", "seen")
			case "k/R2/closed":
				err = s.CloseAlert(ctx, got.ID, "p-1")
			}
			if err != nil {
				t.Fatal(err)
			}
		}

		// R1 over everything, R2 from its third segment (its second
		// docking, checkout and event), R3 unknown.
		spans := []Span{{Serial: "R1"}, {Serial: "R2", From: first.Add(5*time.Hour + 26*time.Minute), To: d2.Add(time.Hour)}, {Serial: "R3"}}
		serials := []string{"R1", "R2", "R3"}
		segs, err := s.SegmentsOf(ctx, spans)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := s.InventoryOf(ctx, spans)
		if err != nil {
			t.Fatal(err)
		}
		hist, err := s.DeviceHealthOf(ctx, spans)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := s.RecorderEventsOf(ctx, spans)
		if err != nil {
			t.Fatal(err)
		}
		asg, err := s.AssignmentsOf(ctx, spans)
		if err != nil {
			t.Fatal(err)
		}
		sums, err := s.DockingsOf(ctx, serials)
		if err != nil {
			t.Fatal(err)
		}
		live, err := s.LiveAlertsOf(ctx, serials)
		if err != nil {
			t.Fatal(err)
		}
		for _, sp := range spans {
			one := func(what string, got any, want any, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s %s: %v", what, sp.Serial, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s of %s: batch %+v, one by one %+v", what, sp.Serial, got, want)
				}
			}
			w1, err := s.Segments(ctx, sp.Serial, sp.From, sp.To)
			one("segments", segs[sp.Serial], w1, err)
			w2, err := s.Inventory(ctx, sp.Serial, sp.From, sp.To)
			one("inventory", inv[sp.Serial], w2, err)
			w3, err := s.DeviceHealth(ctx, sp.Serial, sp.From, sp.To)
			one("health", hist[sp.Serial], w3, err)
			w4, err := s.RecorderEvents(ctx, sp.Serial, sp.From, sp.To)
			one("events", evs[sp.Serial], w4, err)
			w5, err := s.Assignments(ctx, sp.Serial, sp.From, sp.To)
			one("assignments", asg[sp.Serial], w5, err)
			w6, ok, err := s.Dockings(ctx, sp.Serial)
			got6, gotOK := sums[sp.Serial]
			one("dockings", got6, w6, err)
			one("docked", gotOK, ok, nil)
			var w7 []Alert
			for _, state := range []string{AlertOpen, AlertAcknowledged} {
				as, err := s.Alerts(ctx, AlertFilter{State: state, Serial: sp.Serial})
				if err != nil {
					t.Fatal(err)
				}
				w7 = append(w7, as...)
			}
			one("live alerts", live[sp.Serial], w7, nil)
		}
		// What the spans select: R1 all, R2 from its third segment and
		// its second docking on, R3 nothing at all (absent).
		if len(segs["R1"]) != 4 || len(segs["R2"]) != 3 || len(inv["R2"]) != 3 || len(hist["R1"]) != 2 || len(hist["R2"]) != 1 ||
			len(evs["R2"]) != 1 || len(asg["R2"]) != 1 || len(live["R1"]) != 2 || len(live["R2"]) != 1 {
			t.Errorf("batch reads: segments %d/%d, inventory R2 %d, health %d/%d, events R2 %d, assignments R2 %d, live %d/%d",
				len(segs["R1"]), len(segs["R2"]), len(inv["R2"]), len(hist["R1"]), len(hist["R2"]), len(evs["R2"]), len(asg["R2"]),
				len(live["R1"]), len(live["R2"]))
		}
		for _, m := range []int{len(segs), len(inv), len(hist), len(evs), len(asg), len(sums), len(live)} {
			if m != 2 {
				t.Errorf("a batch read lists %d recorders, want 2 (R3 has nothing)", m)
			}
		}
		if sums["R2"].LastSeq != 6 || !sums["R2"].Listed || !sums["R2"].Complete {
			t.Errorf("dockings of R2: %+v", sums["R2"])
		}
		keys, err := s.AlertsByKeys(ctx, []string{"k/R1/open", "k/R2/closed", "k/none", "k/R1/open"})
		if err != nil || len(keys) != 2 || keys["k/R2/closed"].State != AlertClosed || keys["k/R1/open"].Serial != "R1" {
			t.Errorf("alerts by keys: %+v (%v)", keys, err)
		}

		twice := []Span{{Serial: "R1"}, {Serial: "R1"}}
		if _, err := s.SegmentsOf(ctx, twice); !errors.Is(err, ErrArgument) {
			t.Errorf("a recorder named twice: %v, want ErrArgument", err)
		}
		if _, err := s.DockingsOf(ctx, []string{"R2", "R2"}); !errors.Is(err, ErrArgument) {
			t.Errorf("a recorder named twice: %v, want ErrArgument", err)
		}
		if got, err := s.SegmentsOf(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("no spans: %v (%v)", got, err)
		}
	})
}
