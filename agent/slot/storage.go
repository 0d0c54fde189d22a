package slot

import (
	"context"
	"fmt"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Storage is a slot whose recorder presents as USB mass storage (a legacy
// recorder, no DockLink); agent/massstore's Port implements it through
// agent/dock.
type Storage interface {
	// Attach waits (up to a bound of its own) for the recorder's volume,
	// mounts it read-only and reads who it is; Close on the Volume
	// unmounts it.
	Attach(ctx context.Context) (Volume, error)
}

// Volume is an attached mass-storage recorder. Its segments are its
// files, numbered by the dock (they keep no sequence numbers themselves),
// with the SHA-256 the dock computed at its first read: the copy reads
// them again and the buffer checks the two agree.
type Volume interface {
	footage
	Serial() string
	Officer() string
	Model() string
	// Inventory numbers and lists the recordings; last is the highest
	// number ever given on this recorder (a file gone below it is a hole).
	Inventory(ctx context.Context) (segs []docklink.Segment, last uint64, err error)
	// Describe is a segment's media line for its manifest (its path and
	// where its times came from).
	Describe(seq uint64) string
	// Keeps is true when the policy leaves footage on the recorder after
	// its receipt (Release is then never called).
	Keeps() bool
	Close() error
}

// storageSession runs one docking of a mass-storage recorder through the
// same steps as a DockLink one (inventory report, copy into the buffer,
// receipts, release), without what such a recorder cannot do
// (authentication, status, clock, event log, firmware). Like session it
// returns true when the volume could not be attached with the recorder
// still docked.
func (s *Slot) storageSession(ctx context.Context) (retry bool) {
	v, err := s.cfg.Storage.Attach(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.fault(FaultLink, err.Error())
		}
		return ctx.Err() == nil
	}
	defer func() {
		if err := v.Close(); err != nil {
			s.log.Error("unmount", "err", err)
		}
	}()
	serial := v.Serial()
	d := &docking{at: s.cfg.Clock.Now().UTC(), info: docklink.DeviceInfo{Serial: serial, Model: v.Model()},
		timeSource: wire.TimeSourceFile, media: map[uint64]string{}, keep: v.Keeps()}
	d.status.Officer = v.Officer()
	s.update(true, func(st *wire.SlotState) { st.State, st.Serial = wire.SlotIdentified, serial })
	policy := "delete after receipt"
	if d.keep {
		policy = "keep"
	}
	s.rep.Audit(wire.AuditMounted, s.cfg.Index, serial, 0, fmt.Sprintf("mass storage, read-only, not authenticated; times from files; policy %s", policy))

	if d.segs, d.status.LastSeq, err = v.Inventory(ctx); err != nil {
		if ctx.Err() == nil {
			s.fault(FaultLink, "inventory: "+err.Error())
		}
		return false // a volume that cannot be listed waits for a person
	}
	for _, g := range d.segs {
		d.media[g.Seq] = v.Describe(g.Seq)
	}
	s.reportInventory(d)
	d.follow = followers(d.segs)
	d.hole = withheld(serial, d.segs, d.status, s.cfg.Holes)
	var total int64
	for _, g := range d.segs {
		total += int64(g.Size)
	}
	s.update(true, func(st *wire.SlotState) {
		st.State, st.Segments, st.BytesTotal = wire.SlotInventoried, len(d.segs), total
	})
	if d.hole != "" {
		s.fault(FaultSequenceHole, d.hole+"; footage is copied and uploaded but nothing is released")
	}

	s.copyAll(ctx, v, d)
	if ctx.Err() != nil {
		return false
	}
	if s.faultIs(FaultLink) {
		return true // a read failed with the recorder docked: attach again
	}
	s.reportComplete(d)
	s.releaseAll(ctx, v, d)
	if ctx.Err() != nil {
		return false
	}
	if !s.faulted() {
		s.settle(wire.SlotReleased)
	}
	<-ctx.Done()
	return false
}
