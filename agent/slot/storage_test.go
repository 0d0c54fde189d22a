package slot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// memVolume is a mass-storage recorder's volume in memory: files by seq,
// listed with the hash of listed (what the dock read first) and served
// from served (what a second read finds).
type memVolume struct {
	mu       sync.Mutex
	keep     bool
	listed   map[uint64][]byte
	served   map[uint64][]byte
	released []uint64
	closed   bool
	// receipted tells, at each release, whether the buffer held the
	// segment's receipt then.
	receipted func(seq uint64) bool
	early     []uint64 // releases that came before their receipt
}

func (v *memVolume) Attach(ctx context.Context) (Volume, error) { return v, nil }
func (v *memVolume) Serial() string                             { return "LEGACY-1" }
func (v *memVolume) Officer() string                            { return "o-7" }
func (v *memVolume) Model() string                              { return "DSJ" }
func (v *memVolume) Keeps() bool                                { return v.keep }
func (v *memVolume) Describe(seq uint64) string {
	return fmt.Sprintf("mp4 Record/%04d.mp4 (times from name)", seq)
}
func (v *memVolume) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	return nil
}

func (v *memVolume) Inventory(ctx context.Context) ([]docklink.Segment, uint64, error) {
	var segs []docklink.Segment
	for seq, b := range v.listed {
		start := t0.Add(time.Duration(seq) * time.Hour)
		segs = append(segs, docklink.Segment{Seq: seq, Start: start, End: start.Add(time.Minute), Size: uint64(len(b)),
			SHA256: sha256.Sum256(b), StopCause: docklink.StopUnknown, Officer: "o-7"})
	}
	slices.SortFunc(segs, func(a, b docklink.Segment) int { return int(a.Seq) - int(b.Seq) })
	return segs, uint64(len(segs)), nil
}

func (v *memVolume) ReadSegment(ctx context.Context, seg docklink.Segment, off int64, w io.Writer) (int64, error) {
	n, err := w.Write(v.served[seg.Seq][off:])
	return int64(n), err
}

func (v *memVolume) Release(ctx context.Context, seq uint64, sha [32]byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keep {
		return errors.New("the policy keeps footage")
	}
	if sha != sha256.Sum256(v.listed[seq]) {
		return errors.New("release for another hash")
	}
	if v.receipted != nil && !v.receipted(seq) {
		v.early = append(v.early, seq)
	}
	v.released = append(v.released, seq)
	return nil
}

func newStorageRig(t *testing.T, v *memVolume, hold bool) *rig {
	t.Helper()
	r := newRigWith(t, false, func(c *Config) { c.Storage = v }, nil)
	r.buf.holdReceipts = hold
	v.receipted = func(seq uint64) bool {
		kn, _ := r.buf.Lookup("LEGACY-1", seq)
		return kn.Receipt != nil
	}
	return r
}

func clips(n int) map[uint64][]byte {
	m := map[uint64][]byte{}
	for i := 1; i <= n; i++ {
		m[uint64(i)] = []byte(fmt.Sprintf("clip %d %s", i, make([]byte, 1000*i)))
	}
	return m
}

// A mass-storage recorder goes through the slot's one pipeline: its
// inventory reported, each file copied into the buffer and checked
// against the dock's first read, manifests marked with file times, and
// with the keep policy nothing released on the recorder: only the dock's
// copy is let go after the receipt.
func TestStorageKeep(t *testing.T) {
	v := &memVolume{keep: true, listed: clips(3)}
	v.served = v.listed
	r := newStorageRig(t, v, false)
	r.dock(true)
	st := r.waitState(t, wire.SlotReleased)
	if st.Serial != "LEGACY-1" || st.Copied != 3 || st.Uploaded != 3 || st.Released != 3 {
		t.Fatalf("state %+v", st)
	}
	if len(v.released) != 0 {
		t.Errorf("the keep policy released %v on the recorder", v.released)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		if kn, _ := r.buf.Lookup("LEGACY-1", seq); kn.Phase != buffer.PhaseReleased {
			t.Errorf("seq %d: buffer phase %d, want released", seq, kn.Phase)
		}
	}
	r.rep.mu.Lock()
	for _, m := range r.rep.manifests {
		if m.TimeSource != wire.TimeSourceFile || m.Media != v.Describe(m.Seq) || m.Officer != "o-7" {
			t.Errorf("manifest %+v: want file times, the file's description and officer", m)
		}
	}
	if !slices.Contains(r.rep.audits, wire.AuditMounted) || slices.Contains(r.rep.audits, wire.AuditAuthenticated) {
		t.Errorf("audits %v: want mounted, not authenticated", r.rep.audits)
	}
	if len(r.rep.dockings) != 2 || r.rep.dockings[0].Phase != wire.DockingInventory || len(r.rep.dockings[0].Segments) != 3 ||
		r.rep.dockings[0].LastSeq != 3 || r.rep.dockings[1].Phase != wire.DockingComplete {
		t.Errorf("dockings %+v", r.rep.dockings)
	}
	r.rep.mu.Unlock()
	r.dock(false)
	r.waitState(t, wire.SlotEmpty)
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.closed {
		t.Error("the volume was not closed (unmounted) when the recorder was taken out")
	}
}

// With delete-after-receipt each file is released only once its receipt
// is held.
func TestStorageDeleteAfterReceipt(t *testing.T) {
	v := &memVolume{listed: clips(2)}
	v.served = v.listed
	r := newStorageRig(t, v, true)
	r.dock(true)
	r.buf.awaitWaiting(t, "LEGACY-1", 1)
	v.mu.Lock()
	if len(v.released) != 0 {
		t.Errorf("released %v before any receipt", v.released)
	}
	v.mu.Unlock()
	r.buf.grant(t, "LEGACY-1", 1)
	r.buf.awaitWaiting(t, "LEGACY-1", 2)
	r.buf.grant(t, "LEGACY-1", 2)
	st := r.waitState(t, wire.SlotReleased)
	v.mu.Lock()
	defer v.mu.Unlock()
	if st.Released != 2 || !slices.Equal(v.released, []uint64{1, 2}) || len(v.early) != 0 {
		t.Errorf("state %+v, released %v, before their receipt %v", st, v.released, v.early)
	}
}

// A file whose bytes changed between the dock's two reads is a hash
// mismatch: never buffered, never released.
func TestStorageFileChanged(t *testing.T) {
	v := &memVolume{listed: clips(2)}
	v.served = map[uint64][]byte{1: v.listed[1], 2: []byte(fmt.Sprintf("clip 2 %s", make([]byte, 1999)) + "!")}
	r := newStorageRig(t, v, false)
	r.dock(true)
	deadline := time.Now().Add(10 * time.Second)
	for !r.slot.faultIs(FaultHashMismatch) {
		if time.Now().After(deadline) {
			st, _ := r.slot.State()
			t.Fatalf("state %+v, want a hash-mismatch fault", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The intact file is still released after its receipt.
	for {
		v.mu.Lock()
		done := slices.Contains(v.released, 1)
		v.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the intact file was never released")
		}
		time.Sleep(5 * time.Millisecond)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if slices.Contains(v.released, 2) {
		t.Errorf("released the changed file: %v", v.released)
	}
	if kn, _ := r.buf.Lookup("LEGACY-1", 2); kn.Phase != buffer.PhaseFaulty {
		t.Errorf("changed file in phase %d, want faulty", kn.Phase)
	}
}
