package slot

import (
	"slices"
	"testing"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
)

// eventIndexes lists the indexes of every event reported so far, and the
// reports' docking times.
func (r *reports) eventIndexes() (idx []uint64, kinds []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.events {
		for _, e := range b.Events {
			idx = append(idx, e.Index)
			kinds = append(kinds, e.Kind)
		}
	}
	return idx, kinds
}

// TestEventLogFromCursor: each docking reads the recorder's event log from
// where the previous one stopped, reports it before copying, and moves the
// cursor only after reporting.
func TestEventLogFromCursor(t *testing.T) {
	r := newRig(t, true)
	r.rec.AddRandom(2, 1000, 1, t0) // events 1, 2: record-stop
	r.dock(true)
	r.waitState(t, wire.SlotReleased)
	idx, kinds := r.rep.eventIndexes()
	// 1, 2 record-stop; 3 the dock set the clock before reading.
	if !slices.Equal(idx, []uint64{1, 2, 3}) || kinds[0] != wire.EventRecordStop || kinds[2] != wire.EventClockSet {
		t.Fatalf("first docking read events %v %v", idx, kinds)
	}
	r.rep.mu.Lock()
	order := slices.Clone(r.rep.order)
	docked := r.rep.health[0].DockedAt
	at := r.rep.events[0].DockedAt
	r.rep.mu.Unlock()
	if i, j := slices.Index(order, "events"), slices.Index(order, "manifest"); i < 0 || j < 0 || i > j {
		t.Errorf("report order %v: the event log goes before the footage's manifests", order)
	}
	if !at.Equal(docked) {
		t.Errorf("events name docking %s, health says %s", at, docked)
	}
	if c, _ := r.buf.EventCursor("REC-0001"); c.Index != 3 {
		t.Errorf("cursor %+v after the first docking", c)
	}
	r.dock(false)
	r.waitState(t, wire.SlotEmpty)

	// Second docking: the two releases (4, 5) and the new clock set (6).
	r.dock(true)
	r.waitState(t, wire.SlotReleased)
	idx, kinds = r.rep.eventIndexes()
	if !slices.Equal(idx, []uint64{1, 2, 3, 4, 5, 6}) || kinds[3] != wire.EventReleased {
		t.Fatalf("after the second docking: %v %v (each event once)", idx, kinds)
	}
}

// TestEventLogReset: a cursor the recorder's log no longer holds (its
// numbering restarted) reads the whole log again, audited.
func TestEventLogReset(t *testing.T) {
	r := newRig(t, true)
	r.rec.AddRandom(1, 1000, 1, t0)
	r.buf.SetEventCursor("REC-0001", buffer.EventCursor{Index: 40, Time: t0})
	r.dock(true)
	r.waitState(t, wire.SlotReleased)
	idx, _ := r.rep.eventIndexes()
	if !slices.Equal(idx, []uint64{1, 2}) {
		t.Fatalf("events after a reset: %v, want the whole log", idx)
	}
	r.rep.mu.Lock()
	audits := slices.Clone(r.rep.audits)
	r.rep.mu.Unlock()
	if !slices.Contains(audits, wire.AuditEventsReset) {
		t.Errorf("audits %v: the reset is not recorded", audits)
	}
	if c, _ := r.buf.EventCursor("REC-0001"); c.Index != 2 {
		t.Errorf("cursor %+v", c)
	}
}
