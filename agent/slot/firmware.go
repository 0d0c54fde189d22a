package slot

import (
	"context"
	"errors"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// FirmwareStep updates a docked recorder's firmware (DockLink §17);
// *firmware.Updater implements it.
type FirmwareStep interface {
	// Step runs on an authenticated session. rebooting reports that the
	// recorder rebooted to install an image and its link has ended; an
	// error that the link failed mid-way (the next session resumes).
	Step(ctx context.Context, slot int, c *docklink.Client, info docklink.DeviceInfo) (rebooting bool, err error)
}

// firmwareStep runs Config.Firmware once the recorder's evidence is safe:
// every segment it lists is durable and hash-verified in the buffer, and
// the slot shows no fault (PROTOCOL.md §17.8). It returns true when the
// link ended (a reboot, or a failure during the transfer): the caller
// starts a new session, which copies anything new first and then resumes.
func (s *Slot) firmwareStep(ctx context.Context, c *docklink.Client, d *docking) bool {
	if s.cfg.Firmware == nil || s.faulted() || ctx.Err() != nil {
		return false
	}
	for _, seg := range d.segs {
		k, err := s.buf.Lookup(d.info.Serial, seg.Seq)
		if err != nil || k.Phase < buffer.PhaseBuffered || k.Phase == buffer.PhaseFaulty {
			s.log.Info("firmware update withheld: footage not safe in the buffer", "serial", d.info.Serial, "seq", seg.Seq, "err", err)
			return false
		}
	}
	rebooting, err := s.cfg.Firmware.Step(ctx, s.cfg.Index, c, d.info)
	switch {
	case ctx.Err() != nil:
		return false
	case errors.Is(err, docklink.ErrLinkDown), errors.Is(err, docklink.ErrRequestTimeout):
		s.log.Warn("firmware transfer interrupted; resuming in a new session", "serial", d.info.Serial, "err", err)
		return true
	case err != nil:
		s.log.Error("firmware update", "serial", d.info.Serial, "err", err)
		return false
	case rebooting:
		s.rep.Audit(wire.AuditFirmware, s.cfg.Index, d.info.Serial, 0, "rebooting to install firmware")
		// The recorder stays in the slot: the next session continues
		// this docking if it finds the same recorder (continued.go).
		s.continueAfter("a firmware reboot")
		return true
	}
	return false
}
