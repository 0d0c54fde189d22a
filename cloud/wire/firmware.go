package wire

import "time"

// KindFirmware is the dock topic kind of firmware.progress reports:
// berth/v1/docks/{dock}/firmware.
const KindFirmware = "firmware"

// Firmware update states in FirmwareProgress.State (DockLink §17).
const (
	FwTransferring = "transferring" // the image is being written to the recorder
	FwRebooting    = "rebooting"    // verified and committed; the recorder reboots to install it
	FwInstalled    = "installed"    // the recorder runs the image
	FwRolledBack   = "rolled-back"  // the image failed to boot; the recorder runs its previous firmware
	FwRejected     = "rejected"     // the recorder found the image bytes differ from the signed hash
	FwRefused      = "refused"      // the recorder refused the offer (signature or model)
	FwFailed       = "failed"       // the update could not run (recorder without the capability, dock error)
)

var fwStates = map[string]bool{FwTransferring: true, FwRebooting: true, FwInstalled: true, FwRolledBack: true,
	FwRejected: true, FwRefused: true, FwFailed: true}

// MaxFwDetail bounds FirmwareProgress.Detail.
const MaxFwDetail = 1024

// FirmwareProgress is the progress or result of a firmware campaign on one
// docked recorder, on berth/v1/docks/{dock}/firmware. The states a
// recorder goes through are transferring (repeated as bytes arrive),
// rebooting, then one of installed, rolled-back, rejected, refused or
// failed.
type FirmwareProgress struct {
	Campaign string    `json:"campaign"`
	Serial   string    `json:"serial"`
	Slot     int       `json:"slot"`
	Model    string    `json:"model"`
	Version  string    `json:"version"`           // the campaign image's version
	Running  string    `json:"running,omitempty"` // the version the recorder runs, when known
	State    string    `json:"state"`
	Held     int64     `json:"held"` // image bytes the recorder holds
	Size     int64     `json:"size"` // image bytes
	Detail   string    `json:"detail,omitempty"`
	At       time.Time `json:"at"`
}

func (b *FirmwareProgress) Validate() error {
	if err := ValidID(b.Campaign); err != nil {
		return err
	}
	if err := ValidID(b.Serial); err != nil {
		return err
	}
	if b.Slot < 0 || b.Slot > 1000 {
		return invalid("firmware slot %d", b.Slot)
	}
	if b.Model == "" || len(b.Model) > 255 || b.Version == "" || len(b.Version) > 255 || len(b.Running) > 255 {
		return invalid("firmware model, version or running length")
	}
	if !fwStates[b.State] {
		return invalid("firmware state %q", b.State)
	}
	if b.Size < 1 || b.Held < 0 || b.Held > b.Size {
		return invalid("firmware held %d of %d bytes", b.Held, b.Size)
	}
	if len(b.Detail) > MaxFwDetail {
		return invalid("firmware detail of %d bytes", len(b.Detail))
	}
	if b.At.IsZero() {
		return invalid("missing at")
	}
	return nil
}
