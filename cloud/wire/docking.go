package wire

import "time"

// Docking phases in Docking.Phase (DESIGN.md, "Judge on the whole
// picture"): the recorder's full inventory before anything is copied, and
// the marker that the docking is over.
const (
	DockingInventory = "inventory" // the recorder's inventory (one part of it)
	DockingComplete  = "complete"  // the docking ended: copy, upload and release went as far as they could
)

// MaxInventoryPart bounds the segments one docking message lists: a
// recorder's inventory longer than this goes in several parts (Part of
// Parts), each under MaxPayload.
const MaxInventoryPart = 500

// InventoryEntry is one segment the recorder lists at docking, with what it
// says of it (DockLink §9.1).
type InventoryEntry struct {
	Seq       uint64    `json:"seq"`
	Start     time.Time `json:"start"` // device clock
	End       time.Time `json:"end"`   // device clock
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"` // the recorder's hash, hex
	StopCause string    `json:"stop_cause"`
}

// Docking is a recorder's docking as the dock saw it, on
// berth/v1/docks/{dock}/docking: the inventory before copying (phase
// inventory, in Parts parts) and the end of the docking (phase complete).
// DockedAt (the device.health snapshot's) names the docking. LastSeq is the
// highest sequence number the recorder ever assigned (DockLink status,
// §9.2): footage numbered above the last listed segment while the recorder
// is not recording was lost at the end of its sequence.
type Docking struct {
	Serial    string           `json:"serial"`
	DockedAt  time.Time        `json:"docked_at"`
	Phase     string           `json:"phase"`
	LastSeq   uint64           `json:"last_seq"`
	Recording bool             `json:"recording"`
	Part      int              `json:"part"`
	Parts     int              `json:"parts"`
	Segments  []InventoryEntry `json:"segments,omitempty"`
	Copied    int              `json:"copied"` // complete: segments durable in the dock's buffer
}

func (b *Docking) Validate() error {
	if err := ValidID(b.Serial); err != nil {
		return err
	}
	if b.DockedAt.IsZero() {
		return invalid("missing docked_at")
	}
	switch b.Phase {
	case DockingInventory, DockingComplete:
	default:
		return invalid("docking phase %q", b.Phase)
	}
	if b.Part < 1 || b.Parts < b.Part || b.Parts > 100000 || b.Copied < 0 {
		return invalid("docking part %d of %d, copied %d", b.Part, b.Parts, b.Copied)
	}
	if len(b.Segments) > MaxInventoryPart {
		return invalid("%d segments in one docking part (max %d)", len(b.Segments), MaxInventoryPart)
	}
	var prev uint64
	for i, s := range b.Segments {
		if !ValidSHA256(s.SHA256) {
			return invalid("segment %d sha256 %q", s.Seq, s.SHA256)
		}
		if s.Size < 0 || s.End.Before(s.Start) || !stopCauses[s.StopCause] {
			return invalid("segment %d size, times or stop cause", s.Seq)
		}
		if i > 0 && s.Seq <= prev {
			return invalid("inventory not in ascending seq order at %d", s.Seq)
		}
		if s.Seq > b.LastSeq {
			return invalid("segment %d above last_seq %d", s.Seq, b.LastSeq)
		}
		prev = s.Seq
	}
	return nil
}

// Refusal names a report the collector refused for good, and why: the dock
// stops sending it (it would be refused again), counts and logs it.
type Refusal struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}
