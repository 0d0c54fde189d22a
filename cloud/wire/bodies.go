package wire

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalid reports a body field outside its allowed range.
var ErrInvalid = errors.New("wire: invalid field")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
}

// Dock states in DockState.State.
const (
	DockOnline  = "online"
	DockOffline = "offline" // also the last-will payload's state
)

// DockState is retained on berth/v1/docks/{dock}/state.
type DockState struct {
	State           string    `json:"state"`
	Version         string    `json:"version,omitempty"`
	Slots           int       `json:"slots"`
	BufferBytes     int64     `json:"buffer_bytes"`
	BufferCapacity  int64     `json:"buffer_capacity"`
	BacklogSegments int       `json:"backlog_segments"`
	BacklogBytes    int64     `json:"backlog_bytes"`
	OldestBacklog   time.Time `json:"oldest_backlog,omitzero"`
}

func (b *DockState) Validate() error {
	if b.State != DockOnline && b.State != DockOffline {
		return invalid("state %q", b.State)
	}
	if b.Slots < 0 || b.BufferBytes < 0 || b.BufferCapacity < 0 || b.BacklogSegments < 0 || b.BacklogBytes < 0 {
		return invalid("negative count")
	}
	return nil
}

// Slot states, in lifecycle order (DESIGN.md, "Slot lifecycle"), and the
// fault state.
const (
	SlotEmpty       = "empty"
	SlotPresent     = "present"
	SlotIdentified  = "identified"
	SlotInventoried = "inventoried"
	SlotCopying     = "copying"
	SlotBuffered    = "buffered"
	SlotUploaded    = "uploaded"
	SlotReleased    = "released"
	SlotReady       = "ready"
	SlotFault       = "fault"
)

// Slot faults in SlotState.Fault that the collector acts on (the dock's
// other fault words are its own): the custodian's charge and link faults.
const (
	SlotFaultLink        = "link"             // the recorder does not answer DockLink (hung: power-cycle it)
	SlotFaultOverCurrent = "over-current"     // charge cut
	SlotFaultOverTemp    = "over-temperature" // charge cut
	SlotFaultNotCharging = "not-charging"     // battery does not take charge
)

var slotStates = map[string]bool{SlotEmpty: true, SlotPresent: true, SlotIdentified: true, SlotInventoried: true,
	SlotCopying: true, SlotBuffered: true, SlotUploaded: true, SlotReleased: true, SlotReady: true, SlotFault: true}

// SlotState is retained on berth/v1/docks/{dock}/slots/{slot}.
type SlotState struct {
	Slot        int    `json:"slot"`
	State       string `json:"state"`
	Serial      string `json:"serial,omitempty"`
	Fault       string `json:"fault,omitempty"` // machine-readable fault reason when State is fault
	Detail      string `json:"detail,omitempty"`
	Segments    int    `json:"segments"`     // segments on the recorder at inventory
	Copied      int    `json:"copied"`       // segments durable in the buffer
	Uploaded    int    `json:"uploaded"`     // segments with a receipt
	Released    int    `json:"released"`     // segments freed on the recorder
	BytesTotal  int64  `json:"bytes_total"`  // footage bytes to copy
	BytesCopied int64  `json:"bytes_copied"` // footage bytes durable in the buffer
	Charging    bool   `json:"charging"`
}

func (b *SlotState) Validate() error {
	if b.Slot < 0 || b.Slot > 255 {
		return invalid("slot %d", b.Slot)
	}
	if !slotStates[b.State] {
		return invalid("slot state %q", b.State)
	}
	if b.Serial != "" {
		if err := ValidID(b.Serial); err != nil {
			return err
		}
	}
	if b.Segments < 0 || b.Copied < 0 || b.Uploaded < 0 || b.Released < 0 || b.BytesTotal < 0 || b.BytesCopied < 0 {
		return invalid("negative count")
	}
	return nil
}

// Battery is a recorder's battery at docking.
type Battery struct {
	MilliVolts   int     `json:"mv"`
	Percent      int     `json:"percent"`
	HealthPct    int     `json:"health_pct"` // state of health, % of design capacity
	Cycles       int     `json:"cycles"`
	TemperatureC float64 `json:"temperature_c"`
	Charging     bool    `json:"charging"`
	// Measured is the dock's own estimate of the battery's capacity from
	// the charge current it measured over one charge (coulomb counting);
	// absent until a dock with a current sensor has followed a charge.
	// HealthPct is what the recorder claims; Measured is what it took.
	Measured *MeasuredCapacity `json:"measured,omitempty"`
}

// MaxMeasuredPct bounds MeasuredCapacity.Pct: a measurement far above the
// design capacity is an error of the measurement or of the design figure,
// reported at this cap.
const MaxMeasuredPct = 200

// MeasuredCapacity is a battery capacity measured at a dock: the charge
// that went in between FromPct and ToPct, scaled to the full range.
type MeasuredCapacity struct {
	MilliAmpHours       int       `json:"mah"`
	DesignMilliAmpHours int       `json:"design_mah,omitempty"` // 0: the dock does not know the model's
	Pct                 int       `json:"pct,omitempty"`        // of design; 0 when the design is unknown
	FromPct             int       `json:"from_pct"`
	ToPct               int       `json:"to_pct"`
	At                  time.Time `json:"at"` // when the charge completed (dock clock)
}

func (m *MeasuredCapacity) validate() error {
	switch {
	case m.MilliAmpHours <= 0 || m.MilliAmpHours > 1_000_000 || m.DesignMilliAmpHours < 0 || m.DesignMilliAmpHours > 1_000_000:
		return invalid("measured capacity out of range")
	case m.Pct < 0 || m.Pct > MaxMeasuredPct:
		return invalid("measured capacity percent out of range")
	case m.FromPct < 0 || m.ToPct > 100 || m.FromPct >= m.ToPct:
		return invalid("measured capacity span out of range")
	case m.At.IsZero():
		return invalid("measured capacity without a time")
	}
	return nil
}

// Storage is a recorder's storage at docking.
type Storage struct {
	TotalBytes  int64 `json:"total_bytes"`
	FreeBytes   int64 `json:"free_bytes"`
	HealthPct   int   `json:"health_pct"`
	ReadErrors  int64 `json:"read_errors"`
	WriteErrors int64 `json:"write_errors"`
	BadBlocks   int64 `json:"bad_blocks"`
}

// DeviceHealth is the health snapshot a dock takes at each docking, on
// berth/v1/docks/{dock}/devices/{serial}.
type DeviceHealth struct {
	Serial    string    `json:"serial"`
	Model     string    `json:"model,omitempty"`
	Firmware  string    `json:"firmware"`
	Officer   string    `json:"officer,omitempty"`
	Unit      string    `json:"unit,omitempty"`
	Slot      int       `json:"slot"`
	DockedAt  time.Time `json:"docked_at"`
	Battery   Battery   `json:"battery"`
	Storage   Storage   `json:"storage"`
	Recording bool      `json:"recording"`
	// Clock: the device clock read against the dock's NTP-disciplined clock
	// before it was set. ClockOffsetMs = device - dock, in milliseconds; it is
	// evidence for the timeline's drift correction.
	DeviceClock   time.Time `json:"device_clock"`
	DockClock     time.Time `json:"dock_clock"`
	ClockOffsetMs int64     `json:"clock_offset_ms"`
	ClockSet      bool      `json:"clock_set"`
}

func (b *DeviceHealth) Validate() error {
	if err := ValidID(b.Serial); err != nil {
		return err
	}
	for _, id := range []string{b.Officer, b.Unit} {
		if id != "" {
			if err := ValidID(id); err != nil {
				return err
			}
		}
	}
	if b.Battery.Percent < 0 || b.Battery.Percent > 100 || b.Battery.HealthPct < 0 || b.Battery.HealthPct > 100 {
		return invalid("battery percent out of range")
	}
	if m := b.Battery.Measured; m != nil {
		if err := m.validate(); err != nil {
			return err
		}
	}
	if b.Storage.TotalBytes < 0 || b.Storage.FreeBytes < 0 || b.Storage.FreeBytes > b.Storage.TotalBytes {
		return invalid("storage bytes out of range")
	}
	if b.DockedAt.IsZero() || b.DockClock.IsZero() {
		return invalid("missing docked_at or dock_clock")
	}
	return nil
}

// Stop causes of a segment: the contract's words, defined here once. The
// dock maps the recorder's DockLink codes (PROTOCOL.md §9.3) to them;
// package wire/rules says which are abnormal.
const (
	StopAutoSplit   = "auto-split"
	StopUser        = "user"
	StopLowBattery  = "low-battery"
	StopStorageFull = "storage-full"
	StopFault       = "fault"
	StopPowerLoss   = "power-loss"
	StopUnknown     = "unknown"
)

var stopCauses = map[string]bool{StopAutoSplit: true, StopUser: true, StopLowBattery: true,
	StopStorageFull: true, StopFault: true, StopPowerLoss: true, StopUnknown: true}

// ValidStopCause reports whether s is one of the stop causes above.
func ValidStopCause(s string) bool { return stopCauses[s] }

// Segment manifest states: how far the dock has carried the segment.
const (
	SegBuffered = "buffered" // durable in the dock's buffer, hash verified
	SegUploaded = "uploaded" // receipted by the collector
	SegReleased = "released" // freed on the recorder
	SegFault    = "fault"    // e.g. hash mismatch: kept, not released
)

var segStates = map[string]bool{SegBuffered: true, SegUploaded: true, SegReleased: true, SegFault: true}

// SegmentManifest describes one recorder segment as the dock saw it, on
// berth/v1/docks/{dock}/segments. It is sent again at each state change.
type SegmentManifest struct {
	Serial    string    `json:"serial"`
	Seq       uint64    `json:"seq"`
	Start     time.Time `json:"start"` // device clock
	End       time.Time `json:"end"`   // device clock
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`             // the recorder's hash, hex
	Computed  string    `json:"computed,omitempty"` // the dock's hash of what it copied, hex
	StopCause string    `json:"stop_cause"`
	Officer   string    `json:"officer,omitempty"`
	CaseTag   string    `json:"case_tag,omitempty"`
	Media     string    `json:"media,omitempty"`
	// ClockOffsetMs is the device-minus-dock offset measured at this docking.
	ClockOffsetMs       int64     `json:"clock_offset_ms"`
	ClockSyncedAt       time.Time `json:"clock_synced_at"`
	State               string    `json:"state"`
	Fault               string    `json:"fault,omitempty"`
	Receipt             *Receipt  `json:"receipt,omitempty"`
	FollowsInterruption bool      `json:"follows_interruption,omitempty"`
	// TimeSource says where Start and End come from: TimeSourceDevice (or
	// "", the default: the recorder's own clock over DockLink, offset
	// measured at docking) or TimeSourceFile (a legacy mass-storage
	// recorder: file names and container metadata, no clock reading; less
	// trustworthy).
	TimeSource string `json:"time_source,omitempty"`
}

// Where a segment's times come from (SegmentManifest.TimeSource).
const (
	TimeSourceDevice = "device"
	TimeSourceFile   = "file"
)

func (b *SegmentManifest) Validate() error {
	if err := ValidID(b.Serial); err != nil {
		return err
	}
	if b.Officer != "" {
		if err := ValidID(b.Officer); err != nil {
			return err
		}
	}
	if !ValidSHA256(b.SHA256) {
		return invalid("sha256 %q", b.SHA256)
	}
	if b.Computed != "" && !ValidSHA256(b.Computed) {
		return invalid("computed %q", b.Computed)
	}
	if b.Size < 0 {
		return invalid("size %d", b.Size)
	}
	if b.End.Before(b.Start) {
		return invalid("end %s before start %s", b.End, b.Start)
	}
	if !stopCauses[b.StopCause] {
		return invalid("stop cause %q", b.StopCause)
	}
	if !segStates[b.State] {
		return invalid("segment state %q", b.State)
	}
	if b.TimeSource != "" && b.TimeSource != TimeSourceDevice && b.TimeSource != TimeSourceFile {
		return invalid("time source %q", b.TimeSource)
	}
	if len(b.CaseTag) > 128 || len(b.Media) > 256 {
		return invalid("case tag or media too long")
	}
	if b.Receipt != nil {
		if b.Receipt.SHA256 != b.SHA256 || b.Receipt.Seq != b.Seq || b.Receipt.Device != b.Serial {
			return invalid("receipt does not name this segment")
		}
	}
	return nil
}

// Ack is the collector's application-level acknowledgement on
// berth/v1/docks/{dock}/ack: the listed ids are committed and the dock may
// drop them from its outbox. Refused lists reports refused for good (a
// negative acknowledgement): the dock drops them too, counting and logging
// each with its reason, instead of sending them again.
type Ack struct {
	IDs     []string  `json:"ids"`
	Refused []Refusal `json:"refused,omitempty"`
}

func (b *Ack) Validate() error {
	if n := len(b.IDs) + len(b.Refused); n == 0 || n > 10000 {
		return invalid("ack with %d ids", n)
	}
	return nil
}

// Commands on berth/v1/docks/{dock}/cmd.
const (
	CmdPowerCycle = "power-cycle"
	CmdRefresh    = "refresh"
	// CmdReleaseHole carries a supervisor's decision that recorder Serial,
	// whose sequence misses From..To, may have its receipted segments
	// released all the same (DESIGN.md rule 3: a hole keeps everything
	// until a person decides). The dock still releases only segments with
	// a verified receipt, and only while every hole it finds is one a
	// decision names.
	CmdReleaseHole = "release-hole"
)

// MaxReason bounds a command's reason.
const MaxReason = 1024

// Command is sent by the collector to a dock.
type Command struct {
	Action string `json:"action"`
	Slot   int    `json:"slot,omitempty"`
	By     string `json:"by,omitempty"` // user who issued it, for the audit log
	// release-hole: the recorder, the missing range decided on and why.
	Serial string `json:"serial,omitempty"`
	From   uint64 `json:"from,omitempty"`
	To     uint64 `json:"to,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func (b *Command) Validate() error {
	switch b.Action {
	case CmdPowerCycle:
		if b.Slot < 0 || b.Slot > 255 {
			return invalid("slot %d", b.Slot)
		}
	case CmdRefresh:
	case CmdReleaseHole:
		if err := ValidID(b.Serial); err != nil {
			return invalid("release-hole serial: %v", err)
		}
		if b.From == 0 || b.To < b.From || b.To > math.MaxInt64 {
			return invalid("release-hole range %d..%d", b.From, b.To)
		}
		if b.By == "" || b.Reason == "" || len(b.Reason) > MaxReason {
			return invalid("release-hole needs who decided and why (reason of 1..%d bytes)", MaxReason)
		}
	default:
		return invalid("action %q", b.Action)
	}
	return nil
}

// ValidSHA256 reports whether s is 64 lowercase hex digits, the form every
// SHA-256 takes on the wire.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
