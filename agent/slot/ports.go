package slot

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/chargesense"
	"github.com/berthdock/berth/drivers/led"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Hardware is one slot's hardware; *board.Slot implements it.
type Hardware interface {
	SetPattern(p led.Pattern) error
	OpenLink(ctx context.Context) (io.ReadWriteCloser, error)
	Sense() (chargesense.Reading, error)
	HasSensor() bool
}

// Power is the slot's charge switch; *slotpower.Dev implements it.
type Power interface {
	Set(on bool) error
	On() bool
	PowerCycle(ctx context.Context) error
}

// Phase is how far a segment has got on this dock.
type Phase int

// Phases of a segment in the buffer.
const (
	PhaseNone     Phase = iota // not in the buffer
	PhasePartial               // some bytes durable
	PhaseBuffered              // all bytes durable and hash verified
	PhaseUploaded              // the collector's receipt is held
	PhaseReleased              // the recorder freed it
	PhaseFaulty                // the copy's hash did not match the recorder's
)

// Known is what the buffer knows of a segment.
type Known struct {
	Phase   Phase
	Receipt *wire.Receipt // from PhaseUploaded on
}

// Meta describes a segment to the buffer.
type Meta struct {
	Serial              string
	Seg                 docklink.Segment
	FollowsInterruption bool
	Manifest            wire.SegmentManifest // the report, kept with the footage
}

// Writer streams one segment into the buffer.
type Writer interface {
	io.Writer
	// Offset is how many bytes are durable already (a resumed copy starts there).
	Offset() int64
	// Commit syncs the segment and verifies the SHA-256 the buffer computed
	// while streaming (over every byte, including those written before a
	// resume) against the recorder's; it returns an error wrapping
	// ErrHashMismatch when they differ.
	Commit() error
	// Abort ends the copy keeping what is durable.
	Abort() error
}

// Buffer is the dock's evidence buffer as a slot uses it.
type Buffer interface {
	Lookup(serial string, seq uint64) (Known, error)
	Begin(m Meta) (Writer, error)
	MarkReleased(serial string, seq uint64) error
}

// Errors a Buffer returns that the slot treats specially.
var (
	ErrHashMismatch = errors.New("slot: hash mismatch")
	ErrBufferFull   = errors.New("slot: buffer full")
)

// MismatchError is the error (wrapping ErrHashMismatch) a Writer's Commit
// returns when the bytes copied do not hash to the recorder's SHA-256; it
// carries the dock's hash, which the segment's manifest reports as evidence.
type MismatchError struct {
	Serial   string
	Seq      uint64
	Computed string // hex SHA-256 of the bytes copied
	Want     string // hex SHA-256 the recorder stated
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%v: %s/%d: copied bytes hash to %s, the recorder says %s", ErrHashMismatch, e.Serial, e.Seq, e.Computed, e.Want)
}

// Unwrap makes errors.Is(err, ErrHashMismatch) hold.
func (e *MismatchError) Unwrap() error { return ErrHashMismatch }

// Receipts waits for the uploader.
type Receipts interface {
	// Wait returns once the segment's receipt is held, or ctx ends.
	Wait(ctx context.Context, serial string, seq uint64) (wire.Receipt, error)
}

// Reports receives what the slot tells the collector and the custodian.
// Implementations make them durable (outbox, audit log) before returning.
type Reports interface {
	Slot(st wire.SlotState)
	Device(h wire.DeviceHealth)
	Manifest(m wire.SegmentManifest)
	Audit(action string, slot int, serial string, seq uint64, detail string)
}
