// Package devicetest provides an in-memory recorder Backend for tests of
// code that talks DockLink (the client, the conformance suite, the dock
// agent), in the spirit of net/http/httptest: small, deterministic and
// honest — it keeps real bytes, real SHA-256 hashes and a real Ed25519 key.
// The full simulator with footage, link faults and drift is recsim.
package devicetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Recorder is an in-memory device.Backend. Safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	info     docklink.DeviceInfo
	priv     ed25519.PrivateKey
	status   docklink.Status
	offset   time.Duration // device clock minus Now()
	now      func() time.Time
	lastSeq  uint64
	segs     []docklink.Segment
	data     map[uint64][]byte
	events   []docklink.Event
	released []uint64
}

var _ device.Backend = (*Recorder)(nil)

// New returns an empty recorder with serial and a key derived from seed
// (deterministic, so tests can enrol it with PublicKey). now is the
// recorder's time base (nil: time.Now).
func New(serial string, seed byte, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	r := &Recorder{priv: priv, now: now, data: map[uint64][]byte{}}
	r.info = docklink.DeviceInfo{Serial: serial, Model: "devicetest", Firmware: "1.0.0", HWRevision: "A"}
	copy(r.info.PublicKey[:], priv.Public().(ed25519.PublicKey))
	r.status = docklink.Status{
		Battery:   docklink.Battery{MilliVolts: 4010, Percent: 87, HealthPercent: 95, Cycles: 112, TempDeciC: 251, Charge: docklink.ChargeCharging},
		Storage:   docklink.Storage{TotalBytes: 64 << 30, FreeBytes: 60 << 30, HealthPercent: 98},
		Recording: docklink.RecordingIdle, Firmware: "1.0.0", Officer: "officer-1",
	}
	return r
}

// PublicKey is the recorder's Ed25519 public key, for enrolment.
func (r *Recorder) PublicKey() ed25519.PublicKey { return r.priv.Public().(ed25519.PublicKey) }

// SetBattery sets the battery the recorder reports from now on.
func (r *Recorder) SetBattery(b docklink.Battery) { r.mu.Lock(); r.status.Battery = b; r.mu.Unlock() }

// SetClockOffset makes the device clock run off by d from now().
func (r *Recorder) SetClockOffset(d time.Duration) { r.mu.Lock(); r.offset = d; r.mu.Unlock() }

// AddSegment stores data as the next segment (Seq = last + 1) with the
// true SHA-256 and returns its metadata; meta supplies the other fields
// (Start, End, StopCause, Officer, CaseTag, Media).
func (r *Recorder) AddSegment(data []byte, meta docklink.Segment) docklink.Segment {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastSeq++
	meta.Seq = r.lastSeq
	meta.Size = uint64(len(data))
	meta.SHA256 = sha256.Sum256(data)
	r.segs = append(r.segs, meta)
	r.data[meta.Seq] = data
	r.addEvent(docklink.EventRecordStop, meta.Seq, meta.StopCause.String())
	return meta
}

// AddRandom adds n segments of size bytes of seeded pseudo-random data,
// ten minutes each from start.
func (r *Recorder) AddRandom(n, size int, seed uint64, start time.Time) []docklink.Segment {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	var out []docklink.Segment
	for i := range n {
		b := make([]byte, size)
		for j := 0; j+8 <= len(b); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		at := start.Add(time.Duration(i) * 10 * time.Minute)
		out = append(out, r.AddSegment(b, docklink.Segment{
			Start: at, End: at.Add(10 * time.Minute), StopCause: docklink.StopAutoSplit,
			Officer: "officer-1", CaseTag: fmt.Sprintf("case-%d", i),
			Media: docklink.Media{Container: "mp4", VideoCodec: "h264", Width: 1280, Height: 720, FrameRateMilli: 30000,
				AudioCodec: "aac", AudioSampleRate: 16000, AudioChannels: 1},
		}))
	}
	return out
}

// CorruptHash replaces a segment's recorded hash (a recorder bug).
func (r *Recorder) CorruptHash(seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.segs {
		if r.segs[i].Seq == seq {
			r.segs[i].SHA256[0] ^= 0xFF
		}
	}
}

// Data returns a segment's bytes (nil if not held).
func (r *Recorder) Data(seq uint64) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.data[seq]
}

// Released lists the segments freed by Release, in order.
func (r *Recorder) Released() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.released...)
}

func (r *Recorder) addEvent(k docklink.EventKind, seq uint64, detail string) {
	r.events = append(r.events, docklink.Event{Index: uint64(len(r.events) + 1), Time: r.now().Add(r.offset).UTC(), Kind: k, Seq: seq, Detail: detail})
}

// Info implements device.Backend.
func (r *Recorder) Info() docklink.DeviceInfo { return r.info }

// Sign implements device.Backend.
func (r *Recorder) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(r.priv, msg), nil }

// Status implements device.Backend.
func (r *Recorder) Status() docklink.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.status
	st.Clock = r.now().Add(r.offset).UTC()
	st.LastSeq = r.lastSeq
	return st
}

// Clock implements device.Backend.
func (r *Recorder) Clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now().Add(r.offset).UTC()
}

// SetClock implements device.Backend.
func (r *Recorder) SetClock(t time.Time) error {
	if t.Year() < 2000 {
		return fmt.Errorf("%w: %s is before 2000", device.ErrBadClock, t)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.now().Add(r.offset).UTC()
	r.offset = t.Sub(r.now())
	r.addEvent(docklink.EventClockSet, 0, fmt.Sprintf("%s -> %s", prev.Format(time.RFC3339Nano), t.UTC().Format(time.RFC3339Nano)))
	return nil
}

// Segments implements device.Backend.
func (r *Recorder) Segments() []docklink.Segment {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]docklink.Segment(nil), r.segs...)
}

// OpenSegment implements device.Backend.
func (r *Recorder) OpenSegment(seq uint64) (io.ReaderAt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.data[seq]
	if !ok {
		return nil, fmt.Errorf("%w: %d", device.ErrUnknownSegment, seq)
	}
	return bytes.NewReader(b), nil
}

// Release implements device.Backend: it checks the hash against the bytes
// themselves, not only the recorded hash.
func (r *Recorder) Release(seq uint64, sha [32]byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.data[seq]
	if !ok {
		return fmt.Errorf("%w: %d", device.ErrUnknownSegment, seq)
	}
	if sha256.Sum256(b) != sha {
		return fmt.Errorf("%w: seq %d", device.ErrHashMismatch, seq)
	}
	delete(r.data, seq)
	for i := range r.segs {
		if r.segs[i].Seq == seq {
			r.segs = append(r.segs[:i], r.segs[i+1:]...)
			break
		}
	}
	r.released = append(r.released, seq)
	r.addEvent(docklink.EventReleased, seq, "")
	return nil
}

// Events implements device.Backend.
func (r *Recorder) Events() []docklink.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]docklink.Event(nil), r.events...)
}
