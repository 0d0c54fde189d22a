package slot

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// A recorder that stays in its slot while its session ends and a new one
// starts is still in the same docking: after it rebooted to install
// firmware (firmware.go), or after dockd restarted while an officer's
// checkout offer stood for it (checkout.go). The new session authenticates
// and re-identifies the recorder like any other, and continues the docking
// (the same docked_at in every report, so the collector, which keys
// dockings, health snapshots and events by it, sees one docking) only if
// nothing the collector judges by changed meanwhile; otherwise it is a new
// docking, as before.

// continuation is what a new session needs of the docking it may
// continue.
type continuation struct {
	serial    string
	at        time.Time // the docking's docked_at
	lastSeq   uint64
	recording bool
	clockSet  bool // the docking's health snapshot: the clock was set...
	offsetMs  int64
	after     string // what ended the session: "a firmware reboot", "a dockd restart"
}

// maxClockStep is how far the recorder's clock may stand from what the
// collector believes of it after the docking (set: right; not set: at the
// measured offset) for a new session to continue the docking. The
// collector keeps one clock sync per docking (the first snapshot): a
// reboot that moved the clock more than this needs its own.
const maxClockStep = time.Second

// continuationOf is what a later session needs to continue docking d,
// whose clock sync (as the collector keeps it) set the clock or found it
// offsetMs off.
func continuationOf(d *docking, clockSet bool, offsetMs int64) *continuation {
	return &continuation{serial: d.info.Serial, at: d.at, lastSeq: d.lastSeq(), recording: d.status.Recording == docklink.RecordingActive,
		clockSet: clockSet, offsetMs: offsetMs}
}

// continues reports whether the session's docking d (authenticated, its
// health h measured and its inventory listed) continues prev, and if not,
// why. The same recorder (serial), the same sequence (no number assigned
// since, nor a recording started or ended), every listed segment one the
// buffer holds with the same hash (nothing new to judge), and a clock
// where the collector believes it.
func (s *Slot) continues(prev *continuation, d *docking, h wire.DeviceHealth) (bool, string) {
	switch {
	case d.info.Serial != prev.serial:
		return false, fmt.Sprintf("another recorder (%s, was %s)", d.info.Serial, prev.serial)
	case d.lastSeq() != prev.lastSeq:
		return false, fmt.Sprintf("last sequence number %d, was %d", d.lastSeq(), prev.lastSeq)
	case (d.status.Recording == docklink.RecordingActive) != prev.recording:
		return false, "recording state changed"
	}
	for _, seg := range d.segs {
		m, err := s.buf.Manifest(d.info.Serial, seg.Seq)
		if err != nil || m.SHA256 != hex.EncodeToString(seg.SHA256[:]) || m.Size != int64(seg.Size) {
			return false, fmt.Sprintf("seq %d is not the segment the buffer holds", seg.Seq)
		}
	}
	believed := time.Duration(0)
	if !prev.clockSet {
		believed = time.Duration(prev.offsetMs) * time.Millisecond
	}
	now := time.Duration(0)
	if !h.ClockSet {
		now = time.Duration(h.ClockOffsetMs) * time.Millisecond
	}
	if step := now - believed; step > maxClockStep || step < -maxClockStep {
		return false, fmt.Sprintf("the recorder's clock stands %s from where the docking left it", step)
	}
	return true, ""
}

// takeContinuation returns (and clears) the docking the next session may
// continue, if any.
func (s *Slot) takeContinuation() *continuation {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cont
	s.cont = nil
	return c
}

// continueAfter makes the docking under way the one the next session may
// continue, after what ended this one.
func (s *Slot) continueAfter(after string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return
	}
	c := *s.cur
	c.after = after
	s.cont = &c
}

// setContinuation makes c the docking the next session may continue.
func (s *Slot) setContinuation(c *continuation) {
	s.mu.Lock()
	s.cont = c
	s.mu.Unlock()
}
