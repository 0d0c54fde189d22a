// Package device is the recorder side of DockLink v1: the reference
// firmware logic that answers a dock (firmware-protocol/PROTOCOL.md).
//
// The firmware's view of its hardware and storage is the Backend interface;
// the recorder simulator (firmware-protocol/recsim) implements it over a
// directory of footage, a recorder vendor's firmware would implement the
// same logic over its own storage. Serve runs one session on a byte-stream
// link and enforces the session state machine of §13: nothing but HELLO and
// PING before HELLO, nothing but HELLO, AUTH_CHALLENGE and PING before the
// dock has challenged the device.
package device

import (
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Backend is the recorder's hardware and storage as its firmware sees them.
// Serve calls it from one goroutine per session; a Backend shared by
// several sessions must be safe for concurrent use.
type Backend interface {
	// Info identifies the device (§5.3); it is sent in HELLO_ACK.
	Info() docklink.DeviceInfo
	// Sign signs msg, the §6.2 authentication message, with the device's
	// Ed25519 private key and returns the 64-byte signature.
	Sign(msg []byte) ([]byte, error)
	// Status reports battery, storage, clock, recording state (§7.2).
	Status() docklink.Status
	// Clock reads the device clock (§8.1).
	Clock() time.Time
	// SetClock sets the device clock (§8.2) and logs a clock-set event
	// (§10.3); return an error wrapping ErrBadClock to refuse the time.
	SetClock(t time.Time) error
	// Segments lists every closed segment held, ascending by Seq (§9).
	Segments() []docklink.Segment
	// OpenSegment opens a held segment for reading (§11.1); an error
	// wrapping ErrUnknownSegment if seq is not held.
	OpenSegment(seq uint64) (io.ReaderAt, error)
	// Release frees a segment (§11.4). It must check sha against the
	// segment's hash and return an error wrapping ErrHashMismatch on a
	// mismatch, ErrUnknownSegment if seq is not held, and free nothing in
	// either case. On success it returns only once the release is durable,
	// and logs a released event (§10.3). Serve checks seq and hash against
	// Segments() first as well.
	Release(seq uint64, sha [32]byte) error
	// Events lists the event log, ascending by Index (§10).
	Events() []docklink.Event
}

// Errors a Backend returns (wrapped with %w) so Serve answers with the
// matching ERROR code (§12.2).
var (
	ErrUnknownSegment = errors.New("device: unknown segment")
	ErrHashMismatch   = errors.New("device: release hash does not match the segment")
	ErrBadClock       = errors.New("device: clock value refused")
)

// Opts tunes Serve. The zero value (or nil) is DefaultOpts.
type Opts struct {
	// MaxPayload is the largest frame payload the device accepts and
	// announces in HELLO_ACK (§3.5), 4096–1 MiB. Default 1 MiB.
	MaxPayload uint32
	// MaxRead is the largest READ length served (§11.1). Default 256 KiB.
	// The announced value is capped so a DATA frame fits the dock's
	// MaxPayload.
	MaxRead uint32
	// MaxOutstanding is announced in HELLO_ACK (§4.3). Default 32. Serve
	// executes requests one at a time in arrival order and lets the
	// transport hold the rest, so it never answers BUSY.
	MaxOutstanding uint16
	// Capabilities offered (§5.2). Default docklink.CapAll.
	Capabilities docklink.Capability
	// Logger receives rejected frames and refused requests. Default: discard.
	Logger *slog.Logger
	// Stats, if set, counts the session's frames and rejections.
	Stats *Stats
}

// DefaultOpts are the values Serve uses for zero fields.
var DefaultOpts = Opts{
	MaxPayload:     docklink.MaxPayload,
	MaxRead:        256 << 10,
	MaxOutstanding: 32,
	Capabilities:   docklink.CapAll,
}

// Keyed is a helper for Backends that hold an ed25519 private key: it
// returns the §5.3 public key bytes and signs with the key.
func Keyed(priv ed25519.PrivateKey) (pub [32]byte, sign func(msg []byte) ([]byte, error)) {
	copy(pub[:], priv.Public().(ed25519.PublicKey))
	return pub, func(msg []byte) ([]byte, error) { return ed25519.Sign(priv, msg), nil }
}
