package testworld

import (
	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/cloud/wire"
)

// Settled is the one predicate of a dock that has finished with what it
// was given: every slot released (or ready), nothing in the buffer awaiting
// a receipt, and every report acknowledged by the collector (the dock
// deletes an outbox entry only on the collector's acknowledgement, which
// follows the commit, so the collector's store holds everything then).
// A slot that is empty or in a fault is not settled.
func Settled(st localapi.Status) bool {
	if st.OutboxPending != 0 || st.Backlog.Segments != 0 {
		return false
	}
	for _, s := range st.Slots {
		if s.State != wire.SlotReleased && s.State != wire.SlotReady {
			return false
		}
	}
	return true
}
