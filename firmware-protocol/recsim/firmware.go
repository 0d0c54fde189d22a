package recsim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// The recorder's firmware store (PROTOCOL.md §17): two slots, the running
// image and the previous one kept for rollback, a pending image verified
// and waiting for the next boot, and the image being received. The staged
// bytes live in the Recorder's memory, which stands for the recorder's
// flash: they survive links and reboots of the simulated recorder, not a
// restart of the recsim process. Versions and the last result are kept in
// the state file (Config.StateDir).

// MaxImage is the largest firmware image a simulated recorder takes.
const MaxImage = 64 << 20

// ErrPowerCut is the cause of a link cut by FaultFwPowerLoss: the recorder
// lost power while receiving an image.
var ErrPowerCut = errors.New("recsim: power lost during a firmware transfer")

// VendorKey is the simulated vendor's image signing key: Ed25519 from
// SHA-256("recsim vendor key"). Simulated recorders trust its public key
// unless Config.VendorKey says otherwise; tests and demos sign images with
// it. It is public knowledge, so it must never sign a real image.
func VendorKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("recsim vendor key"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// fwState is the firmware part of a Recorder (under Recorder.mu).
type fwState struct {
	vendor   ed25519.PublicKey
	previous string
	pending  *docklink.FwOffer
	result   docklink.FwResult
	resultV  string
	detail   string

	staged *docklink.FwOffer // the image being received, nil if none
	data   []byte            // its bytes held

	powerLossAt uint64 // FaultFwPowerLoss: held bytes at which power fails, 0 none
	powerLost   bool   // it fired (once per Recorder)
	cutPending  bool   // the link must drop before the next byte is sent
	bootFail    string // FaultFwBootFail: version that fails to boot ("*" any), "" none
	reboots     int
}

var _ device.Firmware = (*Recorder)(nil)

// FirmwareOffer implements device.Firmware.
func (r *Recorder) FirmwareOffer(o docklink.FwOffer) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o.Model != r.info.Model {
		return 0, fmt.Errorf("%w: image for model %q, this is %q", device.ErrBadSignature, o.Model, r.info.Model)
	}
	if !docklink.VerifyFirmware(r.fw.vendor, &o) {
		return 0, fmt.Errorf("%w: %s", device.ErrBadSignature, o.Version)
	}
	if o.Size > MaxImage {
		return 0, fmt.Errorf("%w: %d bytes, at most %d", device.ErrImageTooLarge, o.Size, MaxImage)
	}
	if s := r.fw.staged; s != nil && *s == o {
		r.log.Info("recsim: firmware offer resumes", "version", o.Version, "held", len(r.fw.data))
		return uint64(len(r.fw.data)), nil
	}
	r.fw.staged, r.fw.data = &o, make([]byte, 0, o.Size)
	r.log.Info("recsim: firmware offered", "version", o.Version, "size", o.Size)
	return 0, nil
}

// FirmwareWrite implements device.Firmware. With FaultFwPowerLoss the
// write that would take the image past the fault's byte count keeps only
// the bytes below it and the recorder loses power: the link drops before
// the answer is sent.
func (r *Recorder) FirmwareWrite(sha [32]byte, offset uint64, b []byte) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.fw.staged
	if s == nil || s.SHA256 != sha {
		return 0, fmt.Errorf("%w: no image %x staged", device.ErrOutOfRange, sha[:4])
	}
	held := uint64(len(r.fw.data))
	if offset != held {
		return held, fmt.Errorf("%w: write at %d, %d bytes held", device.ErrOutOfRange, offset, held)
	}
	if at := r.fw.powerLossAt; at > 0 && !r.fw.powerLost && held+uint64(len(b)) > at {
		keep := at - min(at, held)
		r.fw.data = append(r.fw.data, b[:keep]...)
		r.fw.powerLost, r.fw.cutPending = true, true
		r.addEventLocked(docklink.EventPowerOff, 0, fmt.Sprintf("power lost receiving firmware %s at %d bytes", s.Version, len(r.fw.data)))
		r.addEventLocked(docklink.EventPowerOn, 0, "")
		r.log.Info("recsim: power cut during firmware transfer", "held", len(r.fw.data))
		return uint64(len(r.fw.data)), fmt.Errorf("recsim: %w", ErrPowerCut)
	}
	r.fw.data = append(r.fw.data, b...)
	return uint64(len(r.fw.data)), nil
}

// FirmwareCommit implements device.Firmware.
func (r *Recorder) FirmwareCommit(sha [32]byte) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.fw.staged
	if s == nil || s.SHA256 != sha {
		return "", fmt.Errorf("%w: no image %x staged", device.ErrOutOfRange, sha[:4])
	}
	if held := uint64(len(r.fw.data)); held != s.Size {
		return "", fmt.Errorf("%w: %d of %d bytes held", device.ErrOutOfRange, held, s.Size)
	}
	if got := sha256.Sum256(r.fw.data); got != s.SHA256 {
		r.rejectLocked(*s, fmt.Sprintf("received image hashes to %x, the offer says %x", got[:8], s.SHA256[:8]))
		return "", fmt.Errorf("%w: %s", device.ErrImageMismatch, r.fw.detail)
	}
	if !docklink.VerifyFirmware(r.fw.vendor, s) {
		r.rejectLocked(*s, "signature does not verify")
		return "", fmt.Errorf("%w: %s", device.ErrBadSignature, s.Version)
	}
	r.fw.pending = s
	r.fw.staged, r.fw.data = nil, nil
	r.log.Info("recsim: firmware pending", "version", s.Version)
	return s.Version, r.saveStateLocked()
}

func (r *Recorder) rejectLocked(o docklink.FwOffer, why string) {
	r.fw.staged, r.fw.data = nil, nil
	r.fw.result, r.fw.resultV, r.fw.detail = docklink.FwResultRejected, o.Version, why
	r.addEventLocked(docklink.EventFirmware, 0, truncate("rejected "+o.Version+": "+why))
	if err := r.saveStateLocked(); err != nil {
		r.log.Warn("recsim: saving state", "err", err)
	}
}

// FirmwareReboot implements device.Firmware: the simulated boot installs
// the pending image, or, when it fails to boot (FaultFwBootFail), comes
// back on the running one and reports the rollback (§17.7).
func (r *Recorder) FirmwareReboot() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fw.reboots++
	r.addEventLocked(docklink.EventPowerOff, 0, "reboot")
	p := r.fw.pending
	r.fw.pending = nil
	switch {
	case p == nil:
	case r.fw.bootFail == "*" || r.fw.bootFail == p.Version:
		r.fw.result, r.fw.resultV = docklink.FwResultRolledBack, p.Version
		r.fw.detail = fmt.Sprintf("%s failed its boot self-test; %s restored", p.Version, r.firmware)
		r.addEventLocked(docklink.EventFirmware, 0, truncate("rolled back "+p.Version+" -> "+r.firmware))
	default:
		r.fw.previous, r.firmware = r.firmware, p.Version
		r.info.Firmware = p.Version
		r.fw.result, r.fw.resultV, r.fw.detail = docklink.FwResultInstalled, p.Version, ""
		r.addEventLocked(docklink.EventFirmware, 0, truncate("installed "+p.Version+" (was "+r.fw.previous+")"))
	}
	r.addEventLocked(docklink.EventPowerOn, 0, "firmware "+r.firmware)
	if err := r.saveStateLocked(); err != nil {
		r.log.Warn("recsim: saving state after reboot", "err", err)
	}
	r.log.Info("recsim: rebooted", "firmware", r.firmware, "result", r.fw.result)
}

// FirmwareStatus implements device.Firmware.
func (r *Recorder) FirmwareStatus() docklink.FwStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := docklink.FwStatus{Running: r.firmware, Previous: r.fw.previous, Result: r.fw.result,
		ResultVersion: r.fw.resultV, Detail: truncate(r.fw.detail)}
	if r.fw.pending != nil {
		st.Pending = r.fw.pending.Version
	}
	if s := r.fw.staged; s != nil {
		st.StagedSHA256, st.StagedHeld = s.SHA256, uint64(len(r.fw.data))
	}
	return st
}

// Reboots counts the simulated recorder's reboots to install firmware.
func (r *Recorder) Reboots() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fw.reboots
}

// takePowerCut reports (once) that a power cut must drop the link now.
func (r *Recorder) takePowerCut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.fw.cutPending
	r.fw.cutPending = false
	return c
}

// truncate cuts s to a str8 on a rune boundary.
func truncate(s string) string {
	if len(s) <= docklink.MaxString {
		return s
	}
	for i := docklink.MaxString; i > 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return s[:i]
		}
	}
	return ""
}
