package buffer

import (
	"errors"
	"fmt"
	"io"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// This file is the buffer's vocabulary: the words the slots and the
// uploader use when they talk to it. The buffer owns them, so it sits at
// the bottom of agent/ and its users import it, never the reverse.

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

// Pending is one buffered segment waiting for its receipt.
type Pending struct {
	Serial string
	Seq    uint64
	Size   int64
	SHA256 string // hex, the verified hash
}

// Errors a slot treats specially: Begin and Write return errors wrapping
// ErrFull, and Commit errors wrapping ErrHashMismatch (a *MismatchError).
var (
	ErrHashMismatch = errors.New("buffer: hash mismatch")
	ErrFull         = errors.New("buffer: full")
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
