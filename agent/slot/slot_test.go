package slot

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/chargesense"
	"github.com/berthdock/berth/drivers/led"
	"github.com/berthdock/berth/drivers/presence"
	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/device/devicetest"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// hw serves a devicetest recorder over an in-process pipe.
type hw struct {
	rec *devicetest.Recorder
	// sense, when set before docking, is the slot's current sensor.
	sense func() chargesense.Reading
	wg    sync.WaitGroup
	mu    sync.Mutex
	pat   []led.Pattern
}

func (h *hw) SetPattern(p led.Pattern) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pat = append(h.pat, p)
	return nil
}
func (h *hw) OpenLink(ctx context.Context) (io.ReadWriteCloser, error) {
	a, b := net.Pipe()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer b.Close()
		device.Serve(ctx, b, h.rec, nil)
	}()
	return a, nil
}
func (h *hw) Sense() (chargesense.Reading, error) {
	if h.sense == nil {
		return chargesense.Reading{}, errors.New("no sensor")
	}
	return h.sense(), nil
}
func (h *hw) HasSensor() bool { return h.sense != nil }

type power struct {
	mu sync.Mutex
	on bool
}

func (p *power) Set(on bool) error                    { p.mu.Lock(); p.on = on; p.mu.Unlock(); return nil }
func (p *power) On() bool                             { p.mu.Lock(); defer p.mu.Unlock(); return p.on }
func (p *power) PowerCycle(ctx context.Context) error { return nil }

// memBuffer is an in-memory Buffer that hashes what it is given, like the
// real one, and hands out signed receipts as soon as a segment is buffered
// (the collector answering at once), unless holdReceipts is set: then a
// receipt exists only once the test grants it. bad makes the receipts it
// issues ones the slot must refuse.
type memBuffer struct {
	mu       sync.Mutex
	key      ed25519.PrivateKey
	data     map[string]*bytes.Buffer
	meta     map[string]buffer.Meta
	phase    map[string]buffer.Phase
	receipts map[string]*wire.Receipt
	waiting  map[string]bool // Wait was called for the segment
	changed  chan struct{}
	// failAfter cuts a copy after this many bytes (simulating removal).
	failAfter int
	// holdReceipts keeps buffered segments without a receipt until grant.
	holdReceipts bool
	bad          badReceipt
	cursors      map[string]buffer.EventCursor
}

// badReceipt is what is wrong with the receipts a memBuffer issues.
type badReceipt int

const (
	receiptGood      badReceipt = iota
	receiptWrongHash            // signed by the collector, naming another hash
	receiptWrongSize            // signed by the collector, naming another size
)

func newMemBuffer(key ed25519.PrivateKey) *memBuffer {
	return &memBuffer{key: key, data: map[string]*bytes.Buffer{}, meta: map[string]buffer.Meta{}, phase: map[string]buffer.Phase{},
		receipts: map[string]*wire.Receipt{}, waiting: map[string]bool{}, changed: make(chan struct{})}
}

func k(serial string, seq uint64) string { return fmt.Sprintf("%s/%d", serial, seq) }

func (m *memBuffer) Lookup(serial string, seq uint64) (buffer.Known, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return buffer.Known{Phase: m.phase[k(serial, seq)], Receipt: m.receipts[k(serial, seq)]}, nil
}

func (m *memBuffer) Begin(meta buffer.Meta) (buffer.Writer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := k(meta.Serial, meta.Seg.Seq)
	if m.data[key] == nil {
		m.data[key] = new(bytes.Buffer)
	}
	m.meta[key] = meta
	return &memWriter{m: m, key: key, off: int64(m.data[key].Len())}, nil
}

func (m *memBuffer) EventCursor(serial string) (buffer.EventCursor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursors[serial], nil
}

func (m *memBuffer) SetEventCursor(serial string, c buffer.EventCursor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cursors == nil {
		m.cursors = map[string]buffer.EventCursor{}
	}
	m.cursors[serial] = c
	return nil
}

func (m *memBuffer) MarkReleased(serial string, seq uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.phase[k(serial, seq)] != buffer.PhaseUploaded {
		return fmt.Errorf("release of %s/%d in phase %d", serial, seq, m.phase[k(serial, seq)])
	}
	m.phase[k(serial, seq)] = buffer.PhaseReleased
	return nil
}

func (m *memBuffer) Manifest(serial string, seq uint64) (wire.SegmentManifest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := k(serial, seq)
	man := m.meta[key].Manifest
	switch m.phase[key] {
	case buffer.PhaseUploaded:
		man.State = wire.SegUploaded
	case buffer.PhaseReleased:
		man.State = wire.SegReleased
	case buffer.PhaseFaulty:
		man.State = wire.SegFault
	}
	man.Receipt = m.receipts[key]
	return man, nil
}

// Wait implements Receipts.
func (m *memBuffer) Wait(ctx context.Context, serial string, seq uint64) (wire.Receipt, error) {
	m.mu.Lock()
	if !m.waiting[k(serial, seq)] {
		m.waiting[k(serial, seq)] = true
		m.signal()
	}
	m.mu.Unlock()
	for {
		m.mu.Lock()
		r, ch := m.receipts[k(serial, seq)], m.changed
		m.mu.Unlock()
		if r != nil {
			return *r, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return wire.Receipt{}, ctx.Err()
		}
	}
}

// signal wakes everything waiting on a change; m.mu is held.
func (m *memBuffer) signal() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// issue stores the receipt for a buffered segment, as the uploader does
// once the collector answers; m.mu is held.
func (m *memBuffer) issue(key string) {
	meta := m.meta[key]
	sum := sha256.Sum256(m.data[key].Bytes())
	signer, size := m.key, int64(meta.Seg.Size)
	switch m.bad {
	case receiptWrongHash:
		sum = sha256.Sum256(sum[:])
	case receiptWrongSize:
		size++
	}
	r := &wire.Receipt{ObjectID: "sha256-" + hex.EncodeToString(sum[:]), Device: meta.Serial, Seq: meta.Seg.Seq,
		SHA256: hex.EncodeToString(sum[:]), Size: size, StoredAt: time.Now()}
	r.Sign("test", signer)
	m.receipts[key] = r
	m.phase[key] = buffer.PhaseUploaded
	m.signal()
}

// grant issues a held receipt.
func (m *memBuffer) grant(t *testing.T, serial string, seq uint64) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	key := k(serial, seq)
	if m.phase[key] != buffer.PhaseBuffered {
		t.Fatalf("grant %s: phase %d, want buffered", key, m.phase[key])
	}
	m.issue(key)
}

// awaitWaiting returns once the slot waits for the segment's receipt.
func (m *memBuffer) awaitWaiting(t *testing.T, serial string, seq uint64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		m.mu.Lock()
		w, ch := m.waiting[k(serial, seq)], m.changed
		m.mu.Unlock()
		if w {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("the slot never waited for the receipt of %s/%d", serial, seq)
		}
	}
}

type memWriter struct {
	m   *memBuffer
	key string
	off int64
	n   int
}

func (w *memWriter) Offset() int64 { return w.off }
func (w *memWriter) Write(p []byte) (int, error) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.m.failAfter > 0 && w.n+len(p) > w.m.failAfter {
		p = p[:w.m.failAfter-w.n]
		w.m.data[w.key].Write(p)
		w.n += len(p)
		w.m.failAfter = 0
		return len(p), io.ErrClosedPipe
	}
	w.n += len(p)
	return w.m.data[w.key].Write(p)
}
func (w *memWriter) Abort() error { return nil }
func (w *memWriter) Commit() error {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	meta := w.m.meta[w.key]
	sum := sha256.Sum256(w.m.data[w.key].Bytes())
	if sum != meta.Seg.SHA256 {
		w.m.phase[w.key] = buffer.PhaseFaulty
		return fmt.Errorf("%w: %x", buffer.ErrHashMismatch, sum)
	}
	w.m.phase[w.key] = buffer.PhaseBuffered
	if w.m.holdReceipts {
		w.m.signal()
		return nil
	}
	w.m.issue(w.key)
	return nil
}

type reports struct {
	mu        sync.Mutex
	states    []wire.SlotState
	manifests []wire.SegmentManifest
	dockings  []wire.Docking
	events    []wire.RecorderEvents
	checkouts []wire.Checkout
	order     []string // "docking inventory", "manifest", "docking complete" as reported
	audits    []string
	proofs    []wire.AuditRecord // the "authenticated" records, with their proofs
	health    []wire.DeviceHealth
}

func (r *reports) Slot(st wire.SlotState) {
	r.mu.Lock()
	r.states = append(r.states, st)
	r.mu.Unlock()
}
func (r *reports) Device(h wire.DeviceHealth) {
	r.mu.Lock()
	r.health = append(r.health, h)
	r.mu.Unlock()
}
func (r *reports) Manifest(m wire.SegmentManifest) {
	r.mu.Lock()
	r.manifests = append(r.manifests, m)
	r.order = append(r.order, "manifest")
	r.mu.Unlock()
}
func (r *reports) Docking(d wire.Docking) {
	r.mu.Lock()
	r.dockings = append(r.dockings, d)
	r.order = append(r.order, "docking "+d.Phase)
	r.mu.Unlock()
}
func (r *reports) Events(e wire.RecorderEvents) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.order = append(r.order, "events")
	r.mu.Unlock()
}
func (r *reports) Checkout(c wire.Checkout) {
	r.mu.Lock()
	r.checkouts = append(r.checkouts, c)
	r.mu.Unlock()
}
func (r *reports) Audit(action string, slot int, serial string, seq uint64, detail string) {
	r.mu.Lock()
	r.audits = append(r.audits, action)
	r.mu.Unlock()
}
func (r *reports) Authenticated(slot int, serial, detail string, proof *wire.AuthProof) {
	r.mu.Lock()
	r.audits = append(r.audits, wire.AuditAuthenticated)
	r.proofs = append(r.proofs, wire.AuditRecord{Action: wire.AuditAuthenticated, Slot: slot, Serial: serial, Detail: detail, Proof: proof})
	r.mu.Unlock()
}
func (r *reports) last() wire.SlotState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.states[len(r.states)-1]
}

type rig struct {
	rec    *devicetest.Recorder
	buf    *memBuffer
	rep    *reports
	hw     *hw
	slot   *Slot
	events chan presence.Event
	done   chan error
	cancel context.CancelFunc
}

func newRig(t *testing.T, enrol bool) *rig { t.Helper(); return newRigWith(t, enrol, nil, nil) }

// newRigWith is newRig with the slot's configuration adjusted by cfg and
// the hardware by setup, before the slot runs.
func newRigWith(t *testing.T, enrol bool, cfg func(*Config), setup func(*hw)) *rig {
	t.Helper()
	_, collKey, _ := ed25519.GenerateKey(nil)
	rec := devicetest.New("REC-0001", 7, nil)
	keys := docklink.Keys{}
	if enrol {
		keys["REC-0001"] = rec.PublicKey()
	}
	r := &rig{rec: rec, buf: newMemBuffer(collKey), rep: &reports{}, hw: &hw{rec: rec}, events: make(chan presence.Event)}
	c := Config{Index: 2, Dock: "dock-1", Keys: keys, StatusEvery: 20 * time.Millisecond}
	if cfg != nil {
		cfg(&c)
	}
	if setup != nil {
		setup(r.hw)
	}
	r.slot = New(c,
		r.hw, &power{}, r.buf, r.buf, r.rep, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.slot.Run(ctx, r.events) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
		r.hw.wg.Wait()
	})
	return r
}

func (r *rig) dock(present bool) { r.events <- presence.Event{Present: present, At: time.Now()} }

// waitState waits until the slot reaches state (or fails the test).
func (r *rig) waitState(t *testing.T, want string) wire.SlotState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ := r.slot.State(); st.State == want {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, _ := r.slot.State()
	t.Fatalf("slot state %q (fault %q: %s), want %q", st.State, st.Fault, st.Detail, want)
	return st
}

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

func TestShiftEndDocking(t *testing.T) {
	r := newRig(t, true)
	r.rec.AddRandom(3, 300<<10, 1, t0)
	r.dock(true)
	st := r.waitState(t, wire.SlotReleased)
	if st.Copied != 3 || st.Uploaded != 3 || st.Released != 3 || st.BytesCopied != 3*300<<10 {
		t.Fatalf("final state %+v", st)
	}
	if got := r.rec.Released(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("released %v", got)
	}
	r.rep.mu.Lock()
	audits := slices.Clone(r.rep.audits)
	nh := len(r.rep.health)
	r.rep.mu.Unlock()
	for _, a := range []string{wire.AuditDocked, wire.AuditAuthenticated, wire.AuditClockSet, wire.AuditVerified, wire.AuditReleased} {
		if !slices.Contains(audits, a) {
			t.Errorf("audit %q missing from %v", a, audits)
		}
	}
	if nh != 1 {
		t.Errorf("%d health reports", nh)
	}
	r.dock(false)
	r.waitState(t, wire.SlotEmpty)
}

func TestUnknownRecorderRefused(t *testing.T) {
	r := newRig(t, false)
	r.rec.AddRandom(1, 1000, 1, t0)
	r.dock(true)
	st := r.waitState(t, wire.SlotFault)
	if st.Fault != FaultAuth {
		t.Fatalf("fault %q", st.Fault)
	}
	if len(r.rec.Released()) != 0 || len(r.buf.data) != 0 {
		t.Fatal("an unknown recorder was served")
	}
}

func TestLyingHashNotReleased(t *testing.T) {
	r := newRig(t, true)
	r.rec.AddRandom(3, 10<<10, 1, t0)
	r.rec.CorruptHash(2)
	r.dock(true)
	st := r.waitState(t, wire.SlotFault)
	deadline := time.Now().Add(5 * time.Second)
	for len(r.rec.Released()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := r.rec.Released(); !slices.Equal(got, []uint64{1, 3}) {
		t.Fatalf("released %v (state %+v), want 1 and 3 only", got, st)
	}
	if st.Fault != FaultHashMismatch {
		t.Fatalf("fault %q", st.Fault)
	}
}

func TestRemovedMidCopyResumes(t *testing.T) {
	r := newRig(t, true)
	r.rec.AddRandom(1, 1<<20, 1, t0)
	r.buf.failAfter = 300 << 10 // the first copy breaks
	r.dock(true)
	r.waitState(t, wire.SlotFault) // link fault: copy broke
	r.dock(false)
	r.waitState(t, wire.SlotEmpty)
	r.dock(true)
	st := r.waitState(t, wire.SlotReleased)
	if st.Released != 1 {
		t.Fatalf("state %+v", st)
	}
	if got := r.buf.data[k("REC-0001", 1)].Len(); got != 1<<20 {
		t.Fatalf("buffered %d bytes, want %d (resume must not duplicate)", got, 1<<20)
	}
}

// TestSequenceHoleWithholdsRelease: footage freed behind the dock's back,
// between listed segments or at the end of the sequence (a recorder that is
// not recording and reports a last sequence number beyond its last listed
// segment), is a hole: the rest is copied and uploaded, nothing released.
func TestSequenceHoleWithholdsRelease(t *testing.T) {
	for _, tc := range []struct {
		name string
		gone int // index of the segment freed behind the dock's back
	}{{"between", 1}, {"trailing", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			holes, _, _ := NewHoleReleases(nil)
			r := newRigWith(t, true, func(c *Config) { c.Holes = holes }, nil)
			segs := r.rec.AddRandom(3, 1000, 1, t0)
			gone := segs[tc.gone]
			if err := r.rec.Release(gone.Seq, gone.SHA256); err != nil {
				t.Fatal(err)
			}
			r.dock(true)
			st := r.waitState(t, wire.SlotFault)
			if st.Fault != FaultSequenceHole {
				t.Fatalf("fault %q", st.Fault)
			}
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				if st, _ := r.slot.State(); st.Uploaded == 2 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			if got := r.rec.Released(); !slices.Equal(got, []uint64{gone.Seq}) { // only our own tampering
				t.Fatalf("released %v", got)
			}
			// A supervisor's decision while the recorder is still docked:
			// the receipted segments around the hole are released then.
			if err := holes.Allow(buffer.HoleRelease{Serial: "REC-0001", From: gone.Seq, To: gone.Seq, By: "sup", Reason: "lost"}); err != nil {
				t.Fatal(err)
			}
			st = r.waitState(t, wire.SlotReleased)
			got := r.rec.Released()
			slices.Sort(got)
			if st.Released != 2 || !slices.Equal(got, []uint64{1, 2, 3}) {
				t.Fatalf("after the decision: state %+v, released %v", st, got)
			}
		})
	}
}

// TestDockingReportsWholeInventory: the recorder's whole inventory, with
// the highest sequence number it ever assigned (here above the last listed
// segment: footage lost at the end), is reported before any segment, and
// the complete marker after the copy.
func TestDockingReportsWholeInventory(t *testing.T) {
	r := newRig(t, true)
	segs := r.rec.AddRandom(3, 1000, 1, t0)
	if err := r.rec.Release(segs[2].Seq, segs[2].SHA256); err != nil {
		t.Fatal(err)
	}
	r.dock(true)
	r.waitState(t, wire.SlotFault)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.rep.mu.Lock()
		n := len(r.rep.dockings)
		r.rep.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d docking reports", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.rep.mu.Lock()
	defer r.rep.mu.Unlock()
	inv, done := r.rep.dockings[0], r.rep.dockings[1]
	if inv.Phase != wire.DockingInventory || inv.LastSeq != segs[2].Seq || inv.Part != 1 || inv.Parts != 1 ||
		len(inv.Segments) != 2 || inv.Segments[0].Seq != segs[0].Seq || inv.Segments[1].Seq != segs[1].Seq ||
		inv.Segments[1].Size != 1000 || inv.DockedAt.IsZero() {
		t.Errorf("inventory %+v", inv)
	}
	if err := inv.Validate(); err != nil {
		t.Errorf("inventory does not validate: %v", err)
	}
	if done.Phase != wire.DockingComplete || !done.DockedAt.Equal(inv.DockedAt) || done.Copied != 2 {
		t.Errorf("complete %+v", done)
	}
	if r.rep.order[0] != "docking inventory" || r.rep.order[len(r.rep.order)-1] == "docking inventory" {
		t.Errorf("report order %v", r.rep.order)
	}
	copied := 0 // the copy's manifests (releases may follow the marker)
	for _, o := range r.rep.order[:max(0, slices.Index(r.rep.order, "docking complete"))] {
		if o == "manifest" {
			copied++
		}
	}
	if copied < 2 {
		t.Errorf("complete marker before the copy's manifests: %v", r.rep.order)
	}
}

func TestFollowersFirst(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	segs := []docklink.Segment{
		{Seq: 1, Start: at(0), End: at(10), StopCause: docklink.StopAutoSplit},
		{Seq: 2, Start: at(10), End: at(20), StopCause: docklink.StopLowBattery},
		{Seq: 3, Start: at(25), End: at(30), StopCause: docklink.StopUser},
		{Seq: 4, Start: at(300), End: at(310), StopCause: docklink.StopUser},
	}
	f := followers(segs)
	if !f[3] || f[2] || f[4] || f[1] {
		t.Fatalf("followers %v, want only seq 3", f)
	}
}

func TestLinkLostWhileDockedStartsNewSession(t *testing.T) {
	r := newRig(t, true)
	r.rec.AddRandom(2, 1<<20, 1, t0)
	r.buf.failAfter = 300 << 10 // the first copy breaks; the recorder stays docked
	r.dock(true)
	r.waitState(t, wire.SlotFault)
	st := r.waitState(t, wire.SlotReleased) // a new session after the backoff
	if st.Copied != 2 || st.Released != 2 || st.Segments != 2 {
		t.Fatalf("state after the new session %+v (counts must start afresh)", st)
	}
	for seq := uint64(1); seq <= 2; seq++ {
		if got := r.buf.data[k("REC-0001", seq)].Len(); got != 1<<20 {
			t.Fatalf("seq %d: buffered %d bytes, want %d (resume must not duplicate)", seq, got, 1<<20)
		}
	}
}

// waitFor waits until the slot's state satisfies ok (or fails the test).
func (r *rig) waitFor(t *testing.T, what string, ok func(wire.SlotState) bool) wire.SlotState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ := r.slot.State(); ok(st) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, _ := r.slot.State()
	t.Fatalf("slot never reached %s: %+v", what, st)
	return st
}

// waitReleased waits until the recorder has freed seq.
func (r *rig) waitReleased(t *testing.T, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(r.rec.Released(), seq) {
		if time.Now().After(deadline) {
			st, _ := r.slot.State()
			t.Fatalf("seq %d never released (released %v, state %+v)", seq, r.rec.Released(), st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReleaseWaitsForReceipt: with the collector's receipts held back the
// recorder frees nothing; each segment is freed only after its own receipt
// is held, never before.
func TestReleaseWaitsForReceipt(t *testing.T) {
	r := newRig(t, true)
	r.rec.AddRandom(3, 10<<10, 1, t0)
	r.buf.holdReceipts = true
	r.dock(true)
	for seq := uint64(1); seq <= 3; seq++ {
		// The slot is blocked on this receipt: whatever it was going to do
		// before waiting is done.
		r.buf.awaitWaiting(t, "REC-0001", seq)
		if got := r.rec.Released(); slices.Contains(got, seq) || len(got) != int(seq-1) {
			t.Fatalf("before the receipt of seq %d the recorder had freed %v, want %d segments, not this one", seq, got, seq-1)
		}
		if st, _ := r.slot.State(); st.Released != int(seq-1) || st.Copied != 3 {
			t.Fatalf("waiting for the receipt of seq %d: state %+v", seq, st)
		}
		r.buf.grant(t, "REC-0001", seq)
		r.waitReleased(t, seq)
	}
	st := r.waitState(t, wire.SlotReleased)
	if st.Released != 3 || st.Uploaded != 3 {
		t.Fatalf("final state %+v", st)
	}
	if got := r.rec.Released(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("released %v", got)
	}
}

// TestReceiptRemovedWhileWaitingKeepsFootage: a recorder taken out while
// its receipts are held back keeps every segment.
func TestReceiptRemovedWhileWaitingKeepsFootage(t *testing.T) {
	r := newRig(t, true)
	r.rec.AddRandom(2, 10<<10, 1, t0)
	r.buf.holdReceipts = true
	r.dock(true)
	r.buf.awaitWaiting(t, "REC-0001", 1)
	r.dock(false)
	r.waitState(t, wire.SlotEmpty)
	if got := r.rec.Released(); len(got) != 0 {
		t.Fatalf("released %v without a receipt", got)
	}
}

// TestBadReceiptNotReleased: a receipt that names another hash or size
// than the segment the recorder lists frees nothing and shows the
// release-refused fault, whether it was already held when the slot looked
// (Lookup) or arrived while it waited (Wait). (A receipt's signature is
// verified once, by the uploader's client, before the buffer holds it:
// cloud/upload/server's TestClientRejectsForeignReceipt pins that, and the
// CI mutation check removes it.)
func TestBadReceiptNotReleased(t *testing.T) {
	for _, bad := range []struct {
		name string
		kind badReceipt
	}{{"wrong-hash", receiptWrongHash}, {"wrong-size", receiptWrongSize}} {
		for _, held := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/held=%v", bad.name, held), func(t *testing.T) {
				r := newRig(t, true)
				r.rec.AddRandom(3, 10<<10, 1, t0)
				r.buf.bad, r.buf.holdReceipts = bad.kind, held
				r.dock(true)
				if held {
					for seq := uint64(1); seq <= 3; seq++ {
						r.buf.awaitWaiting(t, "REC-0001", seq)
						r.buf.grant(t, "REC-0001", seq)
					}
				}
				// Every segment's receipt was looked at (Uploaded counts
				// receipts held) and the last one refused.
				st := r.waitFor(t, "the last receipt refused", func(st wire.SlotState) bool {
					return st.Released > 0 || st.State == wire.SlotReleased ||
						st.Uploaded == 3 && st.State == wire.SlotFault && strings.HasPrefix(st.Detail, "seq 3:")
				})
				if st.Fault != FaultReleaseRefuse || st.Released != 0 {
					t.Fatalf("state %+v, want fault %q and nothing released", st, FaultReleaseRefuse)
				}
				if got := r.rec.Released(); len(got) != 0 {
					t.Fatalf("released %v on a bad receipt", got)
				}
				r.rep.mu.Lock()
				defer r.rep.mu.Unlock()
				for _, m := range r.rep.manifests {
					if m.State == wire.SegReleased {
						t.Fatalf("manifest reports seq %d released", m.Seq)
					}
				}
				if slices.Contains(r.rep.audits, wire.AuditReleased) {
					t.Fatal("audit log says released")
				}
			})
		}
	}
}

// TestEmptyRecorderDocks: a recorder holding no footage docks without a
// fault (holes() looks at the last listed segment only if there is one).
func TestEmptyRecorderDocks(t *testing.T) {
	r := newRig(t, true)
	r.dock(true)
	if st := r.waitState(t, wire.SlotReleased); st.Fault != "" {
		t.Fatalf("fault %q", st.Fault)
	}
}
