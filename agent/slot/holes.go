package slot

import (
	"fmt"
	"sync"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// HoleReleases are the supervisors' decisions (wire.CmdReleaseHole) this
// dock received: per recorder, the missing ranges whose holes no longer
// withhold releases. A recorder with a hole keeps all its footage until a
// decision names every hole the dock finds; even then, a segment is
// released only with its verified receipt. Safe for concurrent use; the
// dock shares one with its slots. The dock keeps them in its buffer (a
// HoleKeeper) and loads them at start, so a restart forgets none.
type HoleReleases struct {
	mu      sync.Mutex
	m       map[string][]seqRange
	keep    HoleKeeper
	changed chan struct{} // closed (and replaced) when a decision is added
}

// HoleKeeper keeps decisions durably (the buffer).
type HoleKeeper interface {
	KeepHoleRelease(buffer.HoleRelease) error
	HoleReleases() ([]buffer.HoleRelease, int, error)
}

// NewHoleReleases returns the decisions keep holds (none if keep is nil,
// and then Allow keeps them in memory only). It also returns how many
// kept records did not decode.
func NewHoleReleases(keep HoleKeeper) (*HoleReleases, int, error) {
	h := &HoleReleases{m: map[string][]seqRange{}, keep: keep, changed: make(chan struct{})}
	if keep == nil {
		return h, 0, nil
	}
	kept, bad, err := keep.HoleReleases()
	if err != nil {
		return nil, bad, err
	}
	for _, d := range kept {
		h.m[d.Serial] = append(h.m[d.Serial], seqRange{d.From, d.To})
	}
	return h, bad, nil
}

// Allow records the decision d: d.Serial's missing d.From..d.To may be
// released around. It is kept durably first; if that fails it still holds
// until the dock restarts, and the error says so.
func (h *HoleReleases) Allow(d buffer.HoleRelease) error {
	var err error
	if h.keep != nil {
		err = h.keep.KeepHoleRelease(d)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.m[d.Serial] {
		if r == (seqRange{d.From, d.To}) {
			return err
		}
	}
	h.m[d.Serial] = append(h.m[d.Serial], seqRange{d.From, d.To})
	close(h.changed)
	h.changed = make(chan struct{})
	return err
}

// Changed returns a channel closed when the next decision is added (a
// slot whose recorder is held by a hole waits on it; nil h: never).
func (h *HoleReleases) Changed() <-chan struct{} {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
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
