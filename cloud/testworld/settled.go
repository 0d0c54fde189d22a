package testworld

import (
	"context"

	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// Settled is the one predicate of a world whose dock has finished with the
// recorders it was given; st is the dock's status (in process, or dockd's
// local API) and cs the collector's store:
//
//   - every slot holds a recorder it has finished with: released (or
//     ready), or in a fault that waits for a person, once every byte was
//     read and everything copied has its receipt (a sequence hole's
//     footage is still copied and uploaded). A link fault is not settled
//     (a new session is coming), nor is a receipt timeout;
//   - nothing in the buffer waits for a receipt, and the outbox is empty:
//     the dock deletes an entry only on the collector's acknowledgement,
//     which follows the commit, so the collector's store holds every
//     report;
//   - the collector's last state report from the dock shows no backlog
//     (judging from an older one raises a backlog-old alert that no
//     longer holds).
//
// A test then asserts what the docking achieved (all released, or the
// faults it built in): a world that ends in an unexpected fault is settled
// and fails on its assertions rather than timing out.
func Settled(ctx context.Context, st localapi.Status, cs *store.Store) bool {
	if st.OutboxPending != 0 || st.Backlog.Segments != 0 || len(st.Slots) == 0 {
		return false
	}
	for _, s := range st.Slots {
		switch s.State {
		case wire.SlotReleased, wire.SlotReady:
		case wire.SlotFault:
			if s.Fault == slot.FaultLink || s.Fault == slot.FaultOffline || s.BytesCopied < s.BytesTotal || s.Uploaded < s.Copied {
				return false
			}
		default:
			return false
		}
	}
	docks, err := cs.Docks(ctx)
	if err != nil {
		return false
	}
	for _, d := range docks {
		if d.ID == st.Dock {
			return !d.StateAt.IsZero() && d.State.BacklogSegments == 0
		}
	}
	return false
}
