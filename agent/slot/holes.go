package slot

import (
	"fmt"
	"sync"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// HoleReleases are the supervisors' decisions (wire.CmdReleaseHole) this
// dock received: per recorder, the missing ranges whose holes no longer
// withhold releases. A recorder with a hole keeps all its footage until a
// decision names every hole the dock finds; even then, a segment is
// released only with its verified receipt. Safe for concurrent use; the
// dock shares one with its slots. Held in memory: a dock restarted before
// the recorder docks again needs the decision sent again.
type HoleReleases struct {
	mu sync.Mutex
	m  map[string][]seqRange
}

// NewHoleReleases returns an empty set of decisions.
func NewHoleReleases() *HoleReleases { return &HoleReleases{m: map[string][]seqRange{}} }

// Allow records the decision that serial's missing from..to may be
// released around.
func (h *HoleReleases) Allow(serial string, from, to uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m[serial] = append(h.m[serial], seqRange{from, to})
}

// covers reports whether a decision on serial names all of r.
func (h *HoleReleases) covers(serial string, r seqRange) bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range h.m[serial] {
		if d.from <= r.from && r.to <= d.to {
			return true
		}
	}
	return false
}

type seqRange struct{ from, to uint64 }

// missingRanges lists the sequence numbers missing within the inventory,
// and after it (LastSeq beyond the last listed segment while not
// recording).
func missingRanges(segs []docklink.Segment, st docklink.Status) []seqRange {
	var out []seqRange
	for i := 1; i < len(segs); i++ {
		if segs[i].Seq > segs[i-1].Seq+1 {
			out = append(out, seqRange{segs[i-1].Seq + 1, segs[i].Seq - 1})
		}
	}
	if n := len(segs); n > 0 && st.Recording != docklink.RecordingActive && st.LastSeq > segs[n-1].Seq {
		out = append(out, seqRange{segs[n-1].Seq + 1, st.LastSeq})
	}
	return out
}

// withheld says why serial's releases are withheld: its first missing
// range no decision covers; "" if none.
func withheld(serial string, segs []docklink.Segment, st docklink.Status, h *HoleReleases) string {
	n := len(segs)
	for _, r := range missingRanges(segs, st) {
		if h.covers(serial, r) {
			continue
		}
		if n > 0 && r.from == segs[n-1].Seq+1 && r.to == st.LastSeq && st.LastSeq > segs[n-1].Seq {
			return fmt.Sprintf("sequence %d..%d missing after the last listed segment", r.from, r.to)
		}
		return fmt.Sprintf("sequence %d..%d missing", r.from, r.to)
	}
	return ""
}
