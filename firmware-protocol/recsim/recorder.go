package recsim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/time/rate"

	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// DefaultRate is the link speed cap: what a USB 2.0 CDC-ACM recorder
// really delivers (480 Mb/s signalling, 30–40 MB/s of payload).
const DefaultRate = 35_000_000 // bytes per second

// Unlimited as Config.Rate removes the speed cap.
const Unlimited = -1

// Config describes a simulated recorder. The zero value (or nil) gives a
// healthy recorder; fields left zero take the manifest's value (Load) or
// the defaults below.
type Config struct {
	Serial     string // default: the manifest's, or "BWC-SIM-<seed>" for Generate
	Model      string // default "recsim"
	Firmware   string // default "2.4.1"
	HWRevision string // default "B"
	Officer    string // officer assigned now; default the manifest's or "010234"

	// Key is the device's Ed25519 key; nil derives one from the serial
	// (DeriveKey), so the same serial always has the same key.
	Key ed25519.PrivateKey

	// Battery is the battery's state; zero is DefaultBattery.
	Battery docklink.Battery
	// Storage is the storage's state; a zero TotalBytes is 64 GiB, 98 %
	// health, no errors, with free = total − the footage held. With
	// TotalBytes set, FreeBytes is taken as given (0 is full storage).
	// Releases add to the free space.
	Storage docklink.Storage

	// ClockOffset is how far the device clock is off the true time at
	// start; DriftPPM is how fast it drifts (positive: runs fast), also
	// after the dock sets it.
	ClockOffset time.Duration
	DriftPPM    float64

	// Rate caps the bytes per second the device sends on a link (one
	// token bucket per recorder, shared by its links). 0 is DefaultRate;
	// Unlimited (or any negative) removes the cap.
	Rate int64

	// Faults to inject (see FaultKind).
	Faults []Fault

	// VendorKey is the public key the recorder verifies firmware images
	// with (§17.2); nil trusts VendorKey()'s.
	VendorKey ed25519.PublicKey

	// StateDir, if set, keeps the recorder's released segments and event
	// log in StateDir/<serial>.state.json, written durably before a
	// release is acknowledged and read back by the next Load or Generate.
	// Without it the state lives in memory. Footage files are never
	// changed either way.
	StateDir string

	// Device tunes the DockLink session (max read, capabilities).
	Device *device.Opts
	// Clock is the true time the device clock drifts from, and the time
	// base of a dying battery. nil is the real clock.
	Clock clockwork.Clock
	// Logger receives sessions, faults and refusals. nil discards.
	Logger *slog.Logger
}

// DefaultBattery is a healthy recorder back from a shift.
var DefaultBattery = docklink.Battery{MilliVolts: 3850, Percent: 46, HealthPercent: 93, Cycles: 214, TempDeciC: 268, Charge: docklink.ChargeCharging}

// ErrConfig wraps an invalid Config.
var ErrConfig = errors.New("recsim: bad config")

// ErrPoweredOff is returned by ServeConn when the recorder's battery is
// empty (FaultDyingBattery): it answers nothing.
var ErrPoweredOff = errors.New("recsim: recorder powered off (battery empty)")

// ErrDisconnected is returned by ServeConn when an injected disconnect cut
// the link.
var ErrDisconnected = errors.New("recsim: link cut by injected fault")

// segment is one segment the recorder holds.
type segment struct {
	meta docklink.Segment // as reported (with an injected wrong hash)
	sha  [32]byte         // the true hash of the bytes
	open func() (io.ReaderAt, error)
}

// Recorder is a simulated recorder: a device.Backend with footage from a
// directory or a seed. Safe for concurrent use by several sessions.
type Recorder struct {
	info  docklink.DeviceInfo
	priv  ed25519.PrivateKey
	sign  ed25519.PrivateKey // priv, or the wrong key (FaultAuth)
	clock clockwork.Clock
	log   *slog.Logger
	devo  device.Opts
	lim   *rate.Limiter // nil: uncapped
	chunk int           // bytes written per token-bucket reservation
	stats device.Stats
	state string // state file path, "" in memory

	// Link faults, each fires once.
	cutAt      uint64 // FaultDisconnect bytes, 0 none
	cutDone    atomic.Bool
	corruptAt  uint64 // FaultCorruptFrame frame number, 0 none
	framesSent atomic.Uint64

	mu       sync.Mutex
	segs     []segment // held, ascending seq
	lastSeq  uint64
	released []Release
	events   []docklink.Event
	runtime  int // events[runtime:] were added while running (persisted)
	battery  batteryModel
	storage  docklink.Storage
	freeBase uint64 // free bytes before releases
	relBytes uint64
	devClock clockModel
	officer  string
	firmware string
	dead     bool
	fw       fwState
}

var _ device.Backend = (*Recorder)(nil)

// Release is one entry of a recorder's release log: a segment it freed on
// the dock's RELEASE.
type Release struct {
	Seq    uint64    `json:"seq"`
	SHA256 string    `json:"sha256"` // hex, of the bytes freed
	Size   uint64    `json:"size"`
	Time   time.Time `json:"time"` // the device clock at the release (it drifts, and the dock sets it)
	// At is the true time of the release on Config.Clock, the clock a
	// test shares with the other parts it runs (the collector's receipts
	// are stamped from the process's real clock, the default here), so
	// releases and receipts can be put on one ordering. Zero in state
	// files written before it was recorded.
	At time.Time `json:"at,omitzero"`
}

// DeriveKey is the key a recorder with this serial gets when Config.Key
// is nil: Ed25519 from SHA-256("recsim device key\x00" + serial).
// Deterministic, so a dock can enrol simulated recorders by serial.
func DeriveKey(serial string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("recsim device key\x00" + serial))
	return ed25519.NewKeyFromSeed(seed[:])
}

// newRecorder builds a recorder from held segments and config; the
// manifest m supplies identity defaults.
func newRecorder(m *Manifest, segs []segment, cfg *Config) (*Recorder, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	serial := pick(c.Serial, m.Serial)
	if serial == "" || len(serial) > docklink.MaxString {
		return nil, fmt.Errorf("%w: serial must be 1..%d bytes", ErrConfig, docklink.MaxString)
	}
	r := &Recorder{clock: c.Clock, log: c.Logger, segs: segs, lastSeq: m.LastSeq}
	if r.clock == nil {
		r.clock = clockwork.NewRealClock()
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("recorder", serial)
	r.priv = c.Key
	if r.priv == nil {
		r.priv = DeriveKey(serial)
	}
	if len(r.priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: Ed25519 key of %d bytes", ErrConfig, len(r.priv))
	}
	r.sign = r.priv
	r.fw.vendor = c.VendorKey
	if r.fw.vendor == nil {
		r.fw.vendor = VendorKey().Public().(ed25519.PublicKey)
	}
	if len(r.fw.vendor) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: vendor key of %d bytes", ErrConfig, len(r.fw.vendor))
	}
	r.firmware = pick(c.Firmware, m.Firmware, "2.4.1")
	r.officer = pick(c.Officer, m.Officer, "010234")
	r.info = docklink.DeviceInfo{Serial: serial, Model: pick(c.Model, m.Model, "recsim"), Firmware: r.firmware, HWRevision: pick(c.HWRevision, m.HWRevision, "B")}
	copy(r.info.PublicKey[:], r.priv.Public().(ed25519.PublicKey))
	if c.Device != nil {
		r.devo = *c.Device
	}
	if r.devo.Logger == nil {
		r.devo.Logger = r.log
	}
	r.devo.Stats = &r.stats
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Rate > 0 {
		// Chunks of at most burst bytes, and of 20 ms of the rate on slow
		// links, so the cap holds over short spans.
		r.chunk = int(min(burst, max(1, c.Rate/50)))
		// The bucket holds 10 ms of the rate (at least a chunk), so the
		// time the device spends reading and encoding the next frame
		// between writes is not lost to the link, as a USB endpoint's
		// buffers hide it; bursts stay within 10 ms of the rate.
		r.lim = rate.NewLimiter(rate.Limit(c.Rate), int(max(int64(r.chunk), c.Rate/100)))
	}
	for _, s := range segs {
		r.lastSeq = max(r.lastSeq, s.meta.Seq)
	}
	now := r.clock.Now()
	r.devClock = clockModel{base: now, devAtBase: now.Add(c.ClockOffset), ppm: c.DriftPPM}
	if err := r.setHealth(c, now); err != nil {
		return nil, err
	}
	r.events = baseEvents(m, segs)
	r.runtime = len(r.events) // events after these are persisted in the state file
	if err := r.applyFaults(c.Faults, now); err != nil {
		return nil, err
	}
	if c.StateDir != "" {
		r.state = stateFile(c.StateDir, serial)
		if err := r.loadState(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// burst is the largest chunk the link writer sends per token reservation
// (1.9 ms at 35 MB/s): few timer waits per DATA frame, and the cap holds
// over milliseconds.
const burst = 64 << 10

func (r *Recorder) setHealth(c Config, now time.Time) error {
	b := c.Battery
	if b == (docklink.Battery{}) {
		b = DefaultBattery
	}
	pct := func(v uint8) bool { return v <= 100 || v == docklink.PercentUnknown }
	if !pct(b.Percent) || !pct(b.HealthPercent) || !b.Charge.Valid() {
		return fmt.Errorf("%w: battery %+v: percentages 0..100 (or 0xFF) and a §7.2 charge state", ErrConfig, b)
	}
	r.battery = batteryModel{Battery: b, start: now}
	var held uint64
	for _, s := range r.segs {
		held += s.meta.Size
	}
	st := c.Storage
	if st.TotalBytes == 0 {
		st = docklink.Storage{TotalBytes: 64 << 30, HealthPercent: 98, ReadErrors: st.ReadErrors, WriteErrors: st.WriteErrors, BadBlocks: st.BadBlocks}
		if held > st.TotalBytes {
			return fmt.Errorf("%w: %d bytes of footage exceed the default 64 GiB storage", ErrConfig, held)
		}
		st.FreeBytes = st.TotalBytes - held
	}
	if st.FreeBytes > st.TotalBytes || !pct(st.HealthPercent) {
		return fmt.Errorf("%w: storage %+v: free above total or health above 100", ErrConfig, st)
	}
	r.storage, r.freeBase = st, st.FreeBytes
	return nil
}

func (r *Recorder) applyFaults(faults []Fault, now time.Time) error {
	for _, f := range faults {
		switch f.Kind {
		case FaultDisconnect:
			if f.N == 0 {
				return fmt.Errorf("%w: %s: byte count 0", ErrFault, f)
			}
			r.cutAt = f.N
		case FaultCorruptFrame:
			if f.N == 0 {
				return fmt.Errorf("%w: %s: frame number 0 (frames count from 1)", ErrFault, f)
			}
			r.corruptAt = f.N
		case FaultWrongHash:
			i := r.find(f.N)
			if i < 0 {
				return fmt.Errorf("%w: %s: seq %d is not held", ErrFault, f, f.N)
			}
			r.segs[i].meta.SHA256[0] ^= 0xFF
		case FaultMissingSeq:
			i := r.find(f.N)
			switch {
			case i >= 0:
				r.segs = slices.Delete(r.segs, i, i+1)
			case f.N > r.lastSeq:
				r.lastSeq = f.N // lost at the end: only last_seq shows it
			default:
				return fmt.Errorf("%w: %s: seq %d is already missing", ErrFault, f, f.N)
			}
		case FaultDyingBattery:
			d := f.Duration
			if d <= 0 {
				d = DefaultDyingBattery
			}
			r.battery.dying, r.battery.start = d, now
		case FaultAuth:
			r.sign = DeriveKey(r.info.Serial + "\x00wrong key")
		case FaultFwPowerLoss:
			if f.N == 0 {
				return fmt.Errorf("%w: %s: byte count 0", ErrFault, f)
			}
			r.fw.powerLossAt = f.N
		case FaultFwBootFail:
			r.fw.bootFail = f.Version
			if r.fw.bootFail == "" {
				r.fw.bootFail = "*"
			}
		case FaultFwVendorKey:
			r.fw.vendor = DeriveKey("recsim other vendor").Public().(ed25519.PublicKey)
		default:
			return fmt.Errorf("%w: kind %d", ErrFault, int(f.Kind))
		}
		r.log.Info("recsim: fault injected", "fault", f.String())
	}
	return nil
}

// find returns the index of seq in r.segs, or -1.
func (r *Recorder) find(seq uint64) int {
	i, ok := slices.BinarySearchFunc(r.segs, seq, func(s segment, seq uint64) int {
		switch {
		case s.meta.Seq < seq:
			return -1
		case s.meta.Seq > seq:
			return 1
		}
		return 0
	})
	if !ok {
		return -1
	}
	return i
}

// Serial returns the recorder's serial number.
func (r *Recorder) Serial() string { return r.info.Serial }

// PublicKey is the device's Ed25519 public key, to enrol at the dock.
func (r *Recorder) PublicKey() ed25519.PublicKey { return r.priv.Public().(ed25519.PublicKey) }

// PublicKeyBase64 is PublicKey in standard base64, as recsim prints it.
func (r *Recorder) PublicKeyBase64() string { return base64.StdEncoding.EncodeToString(r.PublicKey()) }

// Stats counts the recorder's DockLink traffic over all its sessions.
func (r *Recorder) Stats() *device.Stats { return &r.stats }

// Released lists the sequence numbers freed by RELEASE, in order
// (including those restored from the state file).
func (r *Recorder) Released() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]uint64, len(r.released))
	for i, s := range r.released {
		out[i] = s.Seq
	}
	return out
}

// ReleaseLog is the recorder's release log, in the order of the releases
// (including those restored from the state file).
func (r *Recorder) ReleaseLog() []Release {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.released)
}

// PoweredOff reports whether a dying battery has run out.
func (r *Recorder) PoweredOff() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tickLocked()
	return r.dead
}

// Info implements device.Backend.
func (r *Recorder) Info() docklink.DeviceInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info
}

// Sign implements device.Backend (with FaultAuth, with the wrong key).
func (r *Recorder) Sign(msg []byte) ([]byte, error) {
	return ed25519.Sign(r.sign, msg), nil
}

// Status implements device.Backend.
func (r *Recorder) Status() docklink.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	r.tickLocked()
	st := r.storage
	st.FreeBytes = min(st.TotalBytes, r.freeBase+r.relBytes)
	rec := docklink.RecordingIdle
	if r.dead {
		rec = docklink.RecordingFault
	}
	return docklink.Status{
		Battery: r.battery.at(now), Storage: st, Clock: r.devClock.at(now), Recording: rec,
		LastSeq: r.lastSeq, Firmware: r.firmware, Officer: r.officer,
	}
}

// Clock implements device.Backend.
func (r *Recorder) Clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.devClock.at(r.clock.Now())
}

// SetClock implements device.Backend. Times before 2000 are refused.
func (r *Recorder) SetClock(t time.Time) error {
	if t.Year() < 2000 {
		return fmt.Errorf("%w: %s is before 2000", device.ErrBadClock, t.UTC().Format(time.RFC3339))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	prev := r.devClock.at(now)
	r.devClock.base, r.devClock.devAtBase = now, t
	r.addEventLocked(docklink.EventClockSet, 0, fmt.Sprintf("%s -> %s", prev.Format(time.RFC3339Nano), t.UTC().Format(time.RFC3339Nano)))
	return r.saveStateLocked()
}

// Segments implements device.Backend.
func (r *Recorder) Segments() []docklink.Segment {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]docklink.Segment, len(r.segs))
	for i, s := range r.segs {
		out[i] = s.meta
	}
	return out
}

// OpenSegment implements device.Backend.
func (r *Recorder) OpenSegment(seq uint64) (io.ReaderAt, error) {
	r.mu.Lock()
	i := r.find(seq)
	if i < 0 {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: %d", device.ErrUnknownSegment, seq)
	}
	open := r.segs[i].open
	r.mu.Unlock()
	return open()
}

// Release implements device.Backend: it checks sha against the true hash
// of the bytes, drops the segment from the held list, and returns once
// the release is in the state file (with Config.StateDir).
func (r *Recorder) Release(seq uint64, sha [32]byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.find(seq)
	if i < 0 {
		return fmt.Errorf("%w: %d", device.ErrUnknownSegment, seq)
	}
	s := r.segs[i]
	if s.sha != sha || s.meta.SHA256 != sha {
		return fmt.Errorf("%w: seq %d", device.ErrHashMismatch, seq)
	}
	at := r.clock.Now()
	r.released = append(r.released, Release{Seq: seq, SHA256: fmt.Sprintf("%x", sha), Size: s.meta.Size, Time: r.devClock.at(at), At: at})
	r.segs = slices.Delete(r.segs, i, i+1)
	r.relBytes += s.meta.Size
	r.addEventLocked(docklink.EventReleased, seq, "")
	if err := r.saveStateLocked(); err != nil {
		// Not durable: undo, so the dock sees a failure and keeps its copy.
		r.released = r.released[:len(r.released)-1]
		r.segs = slices.Insert(r.segs, i, s)
		r.relBytes -= s.meta.Size
		r.events = r.events[:len(r.events)-1]
		return fmt.Errorf("recsim: release of seq %d not durable: %w", seq, err)
	}
	r.log.Info("recsim: segment released", "seq", seq)
	return nil
}

// Events implements device.Backend.
func (r *Recorder) Events() []docklink.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tickLocked()
	return slices.Clone(r.events)
}

func (r *Recorder) addEventLocked(k docklink.EventKind, seq uint64, detail string) {
	r.addEventAtLocked(r.devClock.at(r.clock.Now()), k, seq, detail)
}

func (r *Recorder) addEventAtLocked(t time.Time, k docklink.EventKind, seq uint64, detail string) {
	var idx uint64 = 1
	if n := len(r.events); n > 0 {
		idx = r.events[n-1].Index + 1
	}
	r.events = append(r.events, docklink.Event{Index: idx, Time: t.UTC(), Kind: k, Seq: seq, Detail: detail})
}

// tickLocked advances the dying battery: a low-battery alarm at 15 %, a
// power-off event and the power-off itself at empty.
func (r *Recorder) tickLocked() {
	b := &r.battery
	if b.dying == 0 || r.dead {
		return
	}
	now := r.clock.Now()
	if !b.warned {
		if t, ok := b.when(lowBatteryPercent); ok && !now.Before(t) {
			b.warned = true
			r.addEventAtLocked(r.devClock.at(t), docklink.EventLowBattery, 0, fmt.Sprintf("battery %d%%", lowBatteryPercent))
		}
	}
	if t, ok := b.when(0); ok && !now.Before(t) {
		r.dead = true
		r.addEventAtLocked(r.devClock.at(t), docklink.EventPowerOff, 0, "battery empty")
		if err := r.saveStateLocked(); err != nil {
			r.log.Warn("recsim: saving state at power-off", "err", err)
		}
		r.log.Info("recsim: battery empty, powering off")
	}
}

// readerAtFile opens a footage file read-only.
func readerAtFile(path string) func() (io.ReaderAt, error) {
	return func() (io.ReaderAt, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("recsim: opening footage: %w", err)
		}
		return f, nil // *os.File: Serve closes it (io.Closer)
	}
}
