package firmware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Campaign says which recorders get which image.
type Campaign struct {
	ID    string // names the campaign in reports (a wire ID)
	Image *Image
	// Serials are the recorders it targets; empty: every recorder of the
	// image's model.
	Serials []string
}

// Targets reports whether the campaign applies to the recorder.
func (c *Campaign) Targets(info docklink.DeviceInfo) bool {
	if c.Image == nil || info.Model != c.Image.Offer.Model {
		return false
	}
	return len(c.Serials) == 0 || slices.Contains(c.Serials, info.Serial)
}

// Updater runs campaigns on docked recorders. One Updater serves every
// slot of a dock; its methods are safe for concurrent use.
type Updater struct {
	mu        sync.Mutex
	campaigns []*Campaign

	// Report receives progress and results (the dock queues them for the
	// collector). Required.
	Report func(wire.FirmwareProgress)
	// ProgressStep is how many bytes pass between two transferring
	// reports; 0 is a tenth of the image.
	ProgressStep uint64
	// RebootWait bounds the wait for the link to end after the commit.
	RebootWait time.Duration
	Now        func() time.Time
	Log        *slog.Logger
}

// ErrNoReport is returned by Step when the Updater has no Report func.
var ErrNoReport = errors.New("firmware: updater without a report function")

// SetCampaigns replaces the campaigns (the first that targets a recorder
// applies to it).
func (u *Updater) SetCampaigns(cs []*Campaign) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.campaigns = slices.Clone(cs)
}

func (u *Updater) campaignFor(info docklink.DeviceInfo) *Campaign {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.campaigns {
		if c.Targets(info) {
			return c
		}
	}
	return nil
}

// Step brings the recorder on c (authenticated, its footage durable in the
// buffer) to its campaign's image: it reports the result of an earlier
// attempt, or offers the image, transfers what the recorder does not hold
// yet, and commits it with a reboot. It returns rebooting = true once the
// recorder reboots (its link has ended: the slot starts a new session,
// which reports the result). An error means the link failed mid-way (the
// next session resumes the transfer) or the dock could not read its image.
// A recorder that was already tried with this image and rolled it back or
// rejected it is not offered it again.
func (u *Updater) Step(ctx context.Context, slot int, c *docklink.Client, info docklink.DeviceInfo) (rebooting bool, err error) {
	camp := u.campaignFor(info)
	if camp == nil {
		return false, nil
	}
	if u.Report == nil {
		return false, ErrNoReport
	}
	o := camp.Image.Offer
	p := wire.FirmwareProgress{Campaign: camp.ID, Serial: info.Serial, Slot: slot, Model: o.Model, Version: o.Version,
		Running: info.Firmware, Size: int64(o.Size)}
	report := func(state string, held uint64, detail string) {
		p.State, p.Held, p.Detail, p.At = state, int64(held), truncate(detail, wire.MaxFwDetail), u.now()
		u.Report(p)
	}
	st, err := c.FirmwareStatus(ctx)
	if docklink.IsCode(err, docklink.CodeUnsupported) {
		report(wire.FwFailed, 0, "the recorder does not offer firmware update (DockLink capability FIRMWARE)")
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p.Running = st.Running
	if st.Running == o.Version {
		if st.ResultVersion == o.Version && st.Result == docklink.FwResultInstalled {
			report(wire.FwInstalled, o.Size, fmt.Sprintf("was %s", st.Previous))
		}
		return false, nil
	}
	if st.ResultVersion == o.Version {
		switch st.Result {
		case docklink.FwResultRolledBack:
			report(wire.FwRolledBack, 0, st.Detail)
			return false, nil
		case docklink.FwResultRejected:
			report(wire.FwRejected, 0, st.Detail)
			return false, nil
		}
	}
	ack, err := c.OfferFirmware(ctx, o)
	switch {
	case docklink.IsCode(err, docklink.CodeBadSignature):
		report(wire.FwRefused, 0, err.Error())
		return false, nil
	case err != nil:
		return false, err
	}
	f, err := os.Open(camp.Image.Path)
	if err != nil {
		report(wire.FwFailed, ack.Held, "dock: "+err.Error())
		return false, fmt.Errorf("firmware: %w", err)
	}
	defer f.Close()
	report(wire.FwTransferring, ack.Held, "")
	step := u.ProgressStep
	if step == 0 {
		step = max(1, o.Size/10)
	}
	last := ack.Held
	held, err := c.WriteFirmware(ctx, f, o.Size, ack.Held, ack.MaxWrite, func(h uint64) {
		if h-last >= step && h < o.Size {
			last = h
			report(wire.FwTransferring, h, "")
		}
	})
	if err != nil {
		u.log().Warn("firmware transfer interrupted", "serial", info.Serial, "held", held, "err", err)
		return false, err
	}
	report(wire.FwTransferring, held, "")
	if _, err := c.CommitFirmware(ctx, o.SHA256, true); err != nil {
		if docklink.IsCode(err, docklink.CodeImageMismatch) || docklink.IsCode(err, docklink.CodeBadSignature) {
			report(wire.FwRejected, 0, err.Error())
			return false, nil
		}
		return false, err
	}
	report(wire.FwRebooting, o.Size, "")
	wait := u.RebootWait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-c.Done():
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		// The recorder acknowledged but kept its link: it installs at its
		// next power-up; the next docking reports the result.
		u.log().Warn("recorder did not reboot after the firmware commit", "serial", info.Serial, "waited", wait)
		return false, nil
	}
}

func (u *Updater) now() time.Time {
	if u.Now != nil {
		return u.Now().UTC()
	}
	return time.Now().UTC()
}

func (u *Updater) log() *slog.Logger {
	if u.Log != nil {
		return u.Log
	}
	return slog.New(slog.DiscardHandler)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := n; i > 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return s[:i]
		}
	}
	return ""
}
