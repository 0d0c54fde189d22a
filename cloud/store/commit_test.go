package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

func TestEveryTypeLands(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		at := t0.Add(8 * time.Hour)
		b.clock.Advance(8 * time.Hour) // a health report may not be dated ahead of the collector's clock
		seg := manifest("R1", 7, t0, 1500)
		rec := chain(t, "dock-1", 1)[0]
		commit(t, s,
			msg(t, "dock-1", "a", at, &wire.DockState{State: wire.DockOnline, Version: "1.0.0", Slots: 8,
				BufferBytes: 1 << 30, BufferCapacity: 8 << 30, BacklogSegments: 3, BacklogBytes: 3 << 20, OldestBacklog: t0}),
			msg(t, "dock-1", "b", at, &wire.SlotState{Slot: 2, State: wire.SlotBuffered, Serial: "R1", Segments: 4,
				Copied: 4, BytesTotal: 4 << 20, BytesCopied: 4 << 20, Charging: true}),
			msg(t, "dock-1", "c", at, health("R1", at)),
			msg(t, "dock-1", "d", at, seg),
			msg(t, "dock-1", "e", at, rec),
			msg(t, "dock-1", "f", at, &wire.Command{Action: wire.CmdPowerCycle, Slot: 2, By: "custodian-1"}),
			msg(t, "dock-1", "g", at, &wire.Ack{IDs: []string{"x1", "x2"}}),
		)
		docks, err := s.Docks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(docks) != 1 || docks[0].ID != "dock-1" || docks[0].State.Slots != 8 || docks[0].State.BacklogSegments != 3 ||
			!docks[0].State.OldestBacklog.Equal(t0) || !docks[0].StateAt.Equal(at) || !docks[0].LastSeen.Equal(b.clock.Now()) ||
			docks[0].Enrolled {
			t.Errorf("docks = %+v", docks)
		}
		slots, err := s.Slots(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(slots) != 1 || slots[0].State.State != wire.SlotBuffered || !slots[0].State.Charging || slots[0].State.Copied != 4 {
			t.Errorf("slots = %+v", slots)
		}
		devs, err := s.Devices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 1 || devs[0].Firmware != "2.1.0" || devs[0].LastDock != "dock-1" || !devs[0].LastDockedAt.Equal(at) ||
			devs[0].Health.Battery.HealthPct != 91 || devs[0].Health.ClockOffsetMs != 1500 {
			t.Errorf("devices = %+v", devs)
		}
		hist, err := s.DeviceHealth(ctx, "R1", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 1 || hist[0].Dock != "dock-1" || hist[0].Health.Storage.FreeBytes != 40<<30 {
			t.Errorf("health history = %+v", hist)
		}
		segs, err := s.Segments(ctx, "R1", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) != 1 {
			t.Fatalf("segments = %+v", segs)
		}
		g := segs[0]
		if g.Seq != 7 || g.SHA256 != seg.SHA256 || g.Size != seg.Size || g.StopCause != wire.StopAutoSplit ||
			g.CaseTag != "case-1" || g.Officer != "o-1001" || g.State != wire.SegBuffered || g.Dock != "dock-1" ||
			g.Receipt != nil || !g.Start.Equal(t0) {
			t.Errorf("segment = %+v", g)
		}
		if !g.CorrectedStart.Equal(t0.Add(-1500*time.Millisecond)) || !g.CorrectedEnd.Equal(seg.End.Add(-1500*time.Millisecond)) ||
			g.ClockOffset != 1500*time.Millisecond || !g.ClockSyncedAt.Equal(t0) {
			t.Errorf("corrected %s..%s offset %s synced %s", g.CorrectedStart, g.CorrectedEnd, g.ClockOffset, g.ClockSyncedAt)
		}
		ar, err := s.AuditRecords(ctx, "dock-1", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ar) != 1 || ar[0].Status != AuditVerified || ar[0].Record != *rec {
			t.Errorf("audit records = %+v, want %+v verified", ar, *rec)
		}
		if n := b.count(t, s, `SELECT count(*) FROM commands WHERE dock = ? AND action = ? AND slot = 2 AND by_user = ?`,
			"dock-1", wire.CmdPowerCycle, "custodian-1"); n != 1 {
			t.Errorf("commands rows %d", n)
		}
		if n := b.count(t, s, `SELECT count(*) FROM acks WHERE dock = ? AND ids = ?`, "dock-1", `["x1","x2"]`); n != 1 {
			t.Errorf("acks rows %d", n)
		}
	})
}

func TestSegmentUpdates(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		buffered := manifest("R1", 1, t0, 2000)
		buffered.ClockSyncedAt = t0.Add(8 * time.Hour)
		commit(t, s, msg(t, "dock-1", "s1", t0.Add(8*time.Hour), buffered))

		// Uploaded with a receipt, reported by another dock at a later
		// docking (a later sync: its offset must not replace the earlier).
		up := *buffered
		up.State, up.ClockOffsetMs, up.ClockSyncedAt = wire.SegUploaded, 9000, t0.Add(30*time.Hour)
		up.Computed = up.SHA256
		up.FollowsInterruption = true
		up.Receipt = &wire.Receipt{ObjectID: "obj-1", Device: "R1", Seq: 1, SHA256: up.SHA256, Size: up.Size,
			StoredAt: t0.Add(9 * time.Hour), KeyID: "k1", Signature: "c2ln"}
		// The collector issued it (the upload endpoint records it first).
		if err := s.RecordReceipt(ctx, *up.Receipt); err != nil {
			t.Fatal(err)
		}
		commit(t, s, msg(t, "dock-2", "s2", t0.Add(30*time.Hour), &up))

		// A stale redelivery (older envelope time) of the buffered state, and
		// a manifest that claims another hash for the same seq.
		stale := *buffered
		stale.Computed = hash64("something else")
		stale.FollowsInterruption = false
		lie := *buffered
		lie.SHA256, lie.Size = hash64("forged"), 7
		lie.State, lie.Officer = wire.SegReleased, "o-666"
		commit(t, s, msg(t, "dock-1", "s3", t0.Add(7*time.Hour), &stale), msg(t, "dock-3", "s4", t0.Add(40*time.Hour), &lie))

		segs, err := s.Segments(ctx, "R1", time.Time{}, time.Time{})
		if err != nil || len(segs) != 1 {
			t.Fatalf("segments = %+v, %v", segs, err)
		}
		g := segs[0]
		if g.State != wire.SegUploaded || g.Dock != "dock-2" || g.Officer != "o-1001" {
			t.Errorf("state %s from %s officer %s, want uploaded from dock-2 (stale or conflicting reports must not change it)",
				g.State, g.Dock, g.Officer)
		}
		if g.ClockOffset != 2*time.Second || !g.CorrectedStart.Equal(t0.Add(-2*time.Second)) {
			t.Errorf("offset %s corrected %s: the earliest sync must win", g.ClockOffset, g.CorrectedStart)
		}
		if g.SHA256 != buffered.SHA256 || g.Size != buffered.Size {
			t.Errorf("immutable claim overwritten: %s %d", g.SHA256, g.Size)
		}
		if want := claim(&lie); g.Conflict != want {
			t.Errorf("conflict %q, want %q", g.Conflict, want)
		}
		if g.Computed != up.SHA256 || !g.HashMismatch {
			t.Errorf("computed %s mismatch %v: first computed kept, a reported mismatch is sticky", g.Computed, g.HashMismatch)
		}
		if !g.FollowsInterruption {
			t.Error("follows_interruption lost")
		}
		if g.Receipt == nil || g.Receipt.ObjectID != "obj-1" || !g.ReceivedAt.Equal(t0.Add(9*time.Hour)) {
			t.Errorf("receipt %+v received %s", g.Receipt, g.ReceivedAt)
		}
	})
}

func TestSegmentsWindowAndOrder(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		// Seq order differs from corrected-time order: seq 3 was recorded
		// first by the corrected clock.
		var batch []Incoming
		starts := map[uint64]time.Duration{1: 10 * time.Minute, 2: 20 * time.Minute, 3: 0, 4: 60 * time.Minute}
		for seq, d := range starts {
			batch = append(batch, msg(t, "dock-1", fmt.Sprint("m", seq), t0, manifest("R1", seq, t0.Add(d), 0)))
		}
		batch = append(batch, msg(t, "dock-1", "other", t0, manifest("R2", 1, t0, 0)))
		commit(t, s, batch...)
		segs, err := s.Segments(context.Background(), "R1", t0.Add(4*time.Minute), t0.Add(21*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, g := range segs {
			got = append(got, g.Seq)
		}
		// Each segment lasts 5 minutes: seq 3 [0,5) overlaps 4m; seq 4 at 60m does not.
		if fmt.Sprint(got) != "[3 1 2]" {
			t.Errorf("segments in window = %v, want [3 1 2]", got)
		}
	})
}

func TestConcurrentCommits(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		// Two Stores on one database: two collectors.
		collectors := []*Store{b.open(t), b.open(t)}
		s := collectors[0]
		const workers, perWorker = 8, 60
		// Every worker commits its own messages and also redelivers its
		// neighbour's, in batches; each (dock, id) must be fresh exactly once.
		build := func(w int) []Incoming {
			var out []Incoming
			dock := fmt.Sprintf("dock-%d", w%3)
			for i := range perWorker {
				id := fmt.Sprintf("w%d-%d", w, i)
				at := t0.Add(time.Duration(i) * time.Second)
				var body wire.Body
				switch i % 3 {
				case 0:
					body = manifest(fmt.Sprintf("R%d", w), uint64(i), at, 0)
				case 1:
					body = &wire.SlotState{Slot: i % 8, State: wire.SlotCopying, Serial: fmt.Sprintf("R%d", w)}
				default:
					body = health(fmt.Sprintf("R%d", w), at)
				}
				out = append(out, msg(t, dock, id, at, body))
			}
			return out
		}
		sets := make([][]Incoming, workers)
		for w := range workers {
			sets[w] = build(w)
		}
		var mu sync.Mutex
		fresh := map[string]int{}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				mine, theirs := sets[w], sets[(w+1)%workers]
				for start := 0; start < perWorker; start += 20 {
					batch := append(append([]Incoming{}, mine[start:start+20]...), theirs[start:start+20]...)
					dup, err := collectors[w%2].Commit(context.Background(), batch)
					if err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
					mu.Lock()
					for i, d := range dup {
						if !d {
							fresh[batch[i].Env.Dock+"/"+batch[i].Env.ID]++
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(fresh) != workers*perWorker {
			t.Errorf("%d distinct messages committed fresh, want %d", len(fresh), workers*perWorker)
		}
		for k, n := range fresh {
			if n != 1 {
				t.Errorf("%s committed fresh %d times", k, n)
			}
		}
		if n := b.count(t, s, `SELECT count(*) FROM messages`); n != workers*perWorker {
			t.Errorf("messages rows %d, want %d", n, workers*perWorker)
		}
		if n := b.count(t, s, `SELECT count(*) FROM segments`); n != workers*perWorker/3 {
			t.Errorf("segments rows %d, want %d", n, workers*perWorker/3)
		}
		if n := b.count(t, s, `SELECT count(*) FROM device_health`); n != workers*perWorker/3 {
			t.Errorf("device_health rows %d, want %d", n, workers*perWorker/3)
		}
	})
}

func TestSegmentConflictInOneBatch(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		first := manifest("R1", 5, t0, 0)
		lie := *first
		lie.SHA256, lie.State = hash64("forged"), wire.SegReleased
		commit(t, s, msg(t, "dock-1", "a", t0, first), msg(t, "dock-1", "b", t0.Add(time.Minute), &lie))
		segs, err := s.Segments(context.Background(), "R1", time.Time{}, time.Time{})
		if err != nil || len(segs) != 1 {
			t.Fatalf("segments %+v %v", segs, err)
		}
		if g := segs[0]; g.SHA256 != first.SHA256 || g.State != wire.SegBuffered || g.Conflict != claim(&lie) {
			t.Errorf("segment %s state %s conflict %q; want the first claim, its state, the lie as conflict", g.SHA256, g.State, g.Conflict)
		}
	})
}

func TestRedeliveryAfterPruneWritesNothingNew(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		at := t0.Add(8 * time.Hour)
		c := chain(t, "dock-1", 2)
		batch := []Incoming{
			msg(t, "dock-1", "a", at, &wire.DockState{State: wire.DockOnline, Slots: 8}),
			msg(t, "dock-1", "b", at, &wire.SlotState{Slot: 2, State: wire.SlotBuffered, Serial: "R1"}),
			msg(t, "dock-1", "c", at, health("R1", at)),
			msg(t, "dock-1", "d", at, manifest("R1", 7, t0, 1500)),
			msg(t, "dock-1", "e", at, c[0]),
			msg(t, "dock-1", "f", at, c[1]),
			msg(t, "dock-1", "g", at, &wire.Command{Action: wire.CmdRefresh}),
			msg(t, "dock-1", "h", at, &wire.Ack{IDs: []string{"x"}}),
		}
		commit(t, s, batch...)
		tables := []string{"docks", "slots", "devices", "device_health", "segments", "audit_records", "audit_breaks",
			"commands", "acks"}
		before := map[string]int{}
		for _, tbl := range tables {
			before[tbl] = b.count(t, s, `SELECT count(*) FROM `+tbl)
		}
		b.clock.Advance(time.Hour)
		n, err := s.PruneMessages(ctx, b.clock.Now())
		if err != nil || n != int64(len(batch)) {
			t.Fatalf("PruneMessages = %d, %v; want %d", n, err, len(batch))
		}
		for i, d := range commit(t, s, batch...) {
			if d {
				t.Errorf("message %d still known after pruning", i)
			}
		}
		for _, tbl := range tables {
			if got := b.count(t, s, `SELECT count(*) FROM `+tbl); got != before[tbl] {
				t.Errorf("%s: %d rows after redelivery, %d before", tbl, got, before[tbl])
			}
		}
		if st := statuses(t, s, "dock-1"); st != "0:verified 1:verified " {
			t.Errorf("audit statuses %q", st)
		}
	})
}

// A dock measures a battery only over a full charge, then reports the
// docking's health again with the measurement. The measurement stays with
// the recorder across later dockings until a newer one.
func TestMeasuredCapacityStaysWithTheRecorder(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		d0 := b.clock.Now().Add(-72 * time.Hour) // reports from the future are refused
		measured := func(h *wire.DeviceHealth, mah int, at time.Time) *wire.DeviceHealth {
			h.Battery.Measured = &wire.MeasuredCapacity{MilliAmpHours: mah, DesignMilliAmpHours: 3000, Pct: mah * 100 / 3000,
				FromPct: 20, ToPct: 100, At: at}
			return h
		}
		latest := func() wire.DeviceHealth {
			t.Helper()
			devs, err := s.Devices(ctx)
			if err != nil || len(devs) != 1 {
				t.Fatalf("devices %+v: %v", devs, err)
			}
			return devs[0].Health
		}
		commit(t, s, msg(t, "dock-1", "h1", d0, health("R1", d0)))
		if m := latest().Battery.Measured; m != nil {
			t.Fatalf("measured %+v before any measurement", m)
		}
		commit(t, s, msg(t, "dock-1", "h2", d0.Add(3*time.Hour), measured(health("R1", d0), 1830, d0.Add(3*time.Hour))))
		if m := latest().Battery.Measured; m == nil || m.MilliAmpHours != 1830 {
			t.Fatalf("the re-reported docking did not bring its measurement: %+v", m)
		}
		next := health("R1", d0.Add(24*time.Hour))
		next.Battery.Percent = 33
		commit(t, s, msg(t, "dock-1", "h3", d0.Add(24*time.Hour), next))
		h := latest()
		if h.Battery.Measured == nil || h.Battery.Measured.MilliAmpHours != 1830 || h.Battery.Percent != 33 || !h.DockedAt.Equal(d0.Add(24*time.Hour)) {
			t.Fatalf("next docking: %+v (measured %+v)", h.Battery, h.Battery.Measured)
		}
		commit(t, s, msg(t, "dock-1", "h4", d0.Add(27*time.Hour), measured(health("R1", d0.Add(24*time.Hour)), 1650, d0.Add(27*time.Hour))))
		if m := latest().Battery.Measured; m == nil || m.MilliAmpHours != 1650 {
			t.Fatalf("a newer measurement did not replace the old: %+v", m)
		}
	})
}

// A legacy mass-storage recorder's times come from its files: the store
// keeps that provenance (the first manifest's, never changed by a later
// one), and a DockLink manifest's is "device".
func TestSegmentTimeSource(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		legacy := manifest("L1", 1, t0, 0)
		legacy.TimeSource = wire.TimeSourceFile
		commit(t, s, msg(t, "dock-1", "s1", t0, legacy), msg(t, "dock-1", "s2", t0, manifest("R1", 1, t0, 0)))
		later := *legacy
		later.TimeSource, later.State = wire.TimeSourceDevice, wire.SegUploaded
		commit(t, s, msg(t, "dock-1", "s3", t0.Add(time.Hour), &later))
		for serial, want := range map[string]string{"L1": wire.TimeSourceFile, "R1": wire.TimeSourceDevice} {
			segs, err := s.Segments(ctx, serial, time.Time{}, time.Time{})
			if err != nil || len(segs) != 1 {
				t.Fatalf("%s: segments = %+v, %v", serial, segs, err)
			}
			if segs[0].TimeSource != want {
				t.Errorf("%s: time source %q, want %q", serial, segs[0].TimeSource, want)
			}
		}
	})
}
