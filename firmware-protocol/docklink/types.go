package docklink

import "fmt"

// Type is a message type code, byte 1 of the frame header (§3.3, §4.1).
// Requests (dock to device) are 0x01–0x7F; the response to request type T is
// T|0x80; ERROR (0xFF) answers any request.
type Type uint8

// Message types (§4.1).
const (
	TypeHello         Type = 0x01
	TypeAuthChallenge Type = 0x02
	TypeStatusGet     Type = 0x03
	TypeClockGet      Type = 0x04
	TypeClockSet      Type = 0x05
	TypeInventoryGet  Type = 0x06
	TypeEventsGet     Type = 0x07
	TypeRead          Type = 0x08
	TypeRelease       Type = 0x09
	TypePing          Type = 0x0A
	TypeFwOffer       Type = 0x0B // §17.3
	TypeFwWrite       Type = 0x0C // §17.4
	TypeFwCommit      Type = 0x0D // §17.5
	TypeFwStatusGet   Type = 0x0E // §17.6

	TypeHelloAck      Type = 0x81
	TypeAuthResponse  Type = 0x82
	TypeStatus        Type = 0x83
	TypeClock         Type = 0x84
	TypeClockSetAck   Type = 0x85
	TypeInventoryPage Type = 0x86
	TypeEventsPage    Type = 0x87
	TypeData          Type = 0x88
	TypeReleaseAck    Type = 0x89
	TypePong          Type = 0x8A
	TypeFwOfferAck    Type = 0x8B
	TypeFwWriteAck    Type = 0x8C
	TypeFwCommitAck   Type = 0x8D
	TypeFwStatus      Type = 0x8E

	TypeError Type = 0xFF
)

var typeNames = map[Type]string{
	TypeHello: "HELLO", TypeAuthChallenge: "AUTH_CHALLENGE", TypeStatusGet: "STATUS_GET",
	TypeClockGet: "CLOCK_GET", TypeClockSet: "CLOCK_SET", TypeInventoryGet: "INVENTORY_GET",
	TypeEventsGet: "EVENTS_GET", TypeRead: "READ", TypeRelease: "RELEASE", TypePing: "PING",
	TypeHelloAck: "HELLO_ACK", TypeAuthResponse: "AUTH_RESPONSE", TypeStatus: "STATUS",
	TypeClock: "CLOCK", TypeClockSetAck: "CLOCK_SET_ACK", TypeInventoryPage: "INVENTORY_PAGE",
	TypeEventsPage: "EVENTS_PAGE", TypeData: "DATA", TypeReleaseAck: "RELEASE_ACK", TypePong: "PONG",
	TypeError:   "ERROR",
	TypeFwOffer: "FW_OFFER", TypeFwWrite: "FW_WRITE", TypeFwCommit: "FW_COMMIT", TypeFwStatusGet: "FW_STATUS_GET",
	TypeFwOfferAck: "FW_OFFER_ACK", TypeFwWriteAck: "FW_WRITE_ACK", TypeFwCommitAck: "FW_COMMIT_ACK", TypeFwStatus: "FW_STATUS",
}

func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE(0x%02X)", uint8(t))
}

// Known reports whether t is a message type defined by DockLink v1.
func (t Type) Known() bool { _, ok := typeNames[t]; return ok }

// IsResponse reports whether t is sent by the device (§4.1).
func (t Type) IsResponse() bool { return t >= 0x80 }

// Capability is a bit in the capability masks of HELLO and HELLO_ACK (§5.2).
type Capability uint32

// Capabilities defined by v1 (§5.2). Bits not listed are reserved: send 0,
// ignore on receipt.
const (
	CapClockSet Capability = 1 << 0 // CLOCK_SET is supported
	CapEvents   Capability = 1 << 1 // EVENTS_GET is supported
	CapRelease  Capability = 1 << 2 // RELEASE is supported
	CapMedia    Capability = 1 << 3 // segments carry a media description
	CapFirmware Capability = 1 << 4 // firmware update messages (§17)

	// CapAll is every capability defined by v1.
	CapAll = CapClockSet | CapEvents | CapRelease | CapMedia | CapFirmware
)

// Has reports whether all bits of c2 are set in c.
func (c Capability) Has(c2 Capability) bool { return c&c2 == c2 }

// StopCause says why the recorder closed a segment (§9.3).
type StopCause uint8

// Stop causes (§9.3). The String forms are the names PROTOCOL.md gives
// them; the dock maps each code to the collector contract's word.
const (
	StopUnknown     StopCause = 0
	StopAutoSplit   StopCause = 1 // the recorder split a long recording at its size/time limit
	StopUser        StopCause = 2 // the officer stopped recording
	StopLowBattery  StopCause = 3
	StopStorageFull StopCause = 4
	StopFault       StopCause = 5 // hardware or firmware fault
	StopPowerLoss   StopCause = 6 // power lost; segment closed on the next boot
)

var stopNames = [...]string{"unknown", "auto-split", "user", "low-battery", "storage-full", "fault", "power-loss"}

func (s StopCause) String() string {
	if int(s) < len(stopNames) {
		return stopNames[s]
	}
	return fmt.Sprintf("stop-cause(%d)", uint8(s))
}

// Valid reports whether s is defined by v1.
func (s StopCause) Valid() bool { return int(s) < len(stopNames) }

// ChargeState is the battery charger's state (§7.2).
type ChargeState uint8

// Charge states (§7.2).
const (
	ChargeUnknown     ChargeState = 0
	ChargeDischarging ChargeState = 1 // not on external power, or not charging
	ChargeCharging    ChargeState = 2
	ChargeFull        ChargeState = 3 // on external power, charge complete
	ChargeFault       ChargeState = 4 // on external power, battery does not take charge
)

var chargeNames = [...]string{"unknown", "discharging", "charging", "full", "fault"}

func (c ChargeState) String() string {
	if int(c) < len(chargeNames) {
		return chargeNames[c]
	}
	return fmt.Sprintf("charge(%d)", uint8(c))
}

// Valid reports whether c is defined by v1.
func (c ChargeState) Valid() bool { return int(c) < len(chargeNames) }

// RecordingState is what the recorder is doing (§7.2).
type RecordingState uint8

// Recording states (§7.2).
const (
	RecordingUnknown RecordingState = 0
	RecordingIdle    RecordingState = 1
	RecordingActive  RecordingState = 2 // a segment is open; it is not in the inventory yet
	RecordingFault   RecordingState = 3
)

var recNames = [...]string{"unknown", "idle", "recording", "fault"}

func (r RecordingState) String() string {
	if int(r) < len(recNames) {
		return recNames[r]
	}
	return fmt.Sprintf("recording(%d)", uint8(r))
}

// Valid reports whether r is defined by v1.
func (r RecordingState) Valid() bool { return int(r) < len(recNames) }

// EventKind classifies a recorder event log entry (§10.3).
type EventKind uint8

// Event kinds (§10.3).
const (
	EventUnknown     EventKind = 0
	EventPowerOn     EventKind = 1
	EventPowerOff    EventKind = 2
	EventRecordStart EventKind = 3 // Seq names the segment being recorded
	EventRecordStop  EventKind = 4 // Seq names the segment closed
	EventButtonMark  EventKind = 5 // the officer pressed the mark button
	EventLowBattery  EventKind = 6 // alarm
	EventStorageFull EventKind = 7 // alarm
	EventFault       EventKind = 8 // alarm; Detail says what
	EventClockSet    EventKind = 9 // Detail holds the previous and new time
	EventDocked      EventKind = 10
	EventUndocked    EventKind = 11
	EventReleased    EventKind = 12 // Seq names the segment freed by a RELEASE
	EventFirmware    EventKind = 13 // a firmware update was installed, rolled back or rejected; Detail says which (§17.7)
)

var eventNames = [...]string{"unknown", "power-on", "power-off", "record-start", "record-stop",
	"button-mark", "low-battery", "storage-full", "fault", "clock-set", "docked", "undocked", "released", "firmware"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Valid reports whether k is defined by v1.
func (k EventKind) Valid() bool { return int(k) < len(eventNames) }

// ErrorCode is the typed reason carried by an ERROR message (§12).
type ErrorCode uint16

// Error codes (§12.2).
const (
	CodeBadFrame       ErrorCode = 1  // COBS, header or length invalid; request id 0
	CodeCRC            ErrorCode = 2  // CRC-32C mismatch; request id 0
	CodeFrameTooLarge  ErrorCode = 3  // frame above the receiver's limit; request id 0
	CodeUnknownType    ErrorCode = 4  // type not defined, or a response type sent as a request
	CodeBadMessage     ErrorCode = 5  // payload malformed for its type
	CodeHelloRequired  ErrorCode = 6  // request before HELLO
	CodeAuthRequired   ErrorCode = 7  // request before AUTH_CHALLENGE was answered
	CodeBadVersion     ErrorCode = 8  // no common protocol version
	CodeUnknownSegment ErrorCode = 9  // no segment with that sequence number is held
	CodeOutOfRange     ErrorCode = 10 // read offset beyond the segment or length above MaxRead
	CodeHashMismatch   ErrorCode = 11 // RELEASE hash differs from the segment's hash
	CodeBusy           ErrorCode = 12 // more outstanding requests than MaxOutstanding
	CodeStorage        ErrorCode = 13 // the recorder's storage failed to read
	CodeUnsupported    ErrorCode = 14 // capability not offered by this device
	CodeBadClock       ErrorCode = 15 // CLOCK_SET time refused
	CodeInternal       ErrorCode = 16 // any other device failure
	CodeBadSignature   ErrorCode = 17 // FW_OFFER signature does not verify with the vendor key, or the image is for another model (§17.3)
	CodeImageMismatch  ErrorCode = 18 // the received image's SHA-256 differs from the offer's; the staged image is discarded (§17.5)
	CodeNoOffer        ErrorCode = 19 // FW_WRITE or FW_COMMIT without an accepted FW_OFFER of that image in this session (§17.4)
)

var codeNames = map[ErrorCode]string{
	CodeBadFrame: "BAD_FRAME", CodeCRC: "CRC", CodeFrameTooLarge: "FRAME_TOO_LARGE",
	CodeUnknownType: "UNKNOWN_TYPE", CodeBadMessage: "BAD_MESSAGE", CodeHelloRequired: "HELLO_REQUIRED",
	CodeAuthRequired: "AUTH_REQUIRED", CodeBadVersion: "BAD_VERSION", CodeUnknownSegment: "UNKNOWN_SEGMENT",
	CodeOutOfRange: "OUT_OF_RANGE", CodeHashMismatch: "HASH_MISMATCH", CodeBusy: "BUSY",
	CodeStorage: "STORAGE", CodeUnsupported: "UNSUPPORTED", CodeBadClock: "BAD_CLOCK", CodeInternal: "INTERNAL",
	CodeBadSignature: "BAD_SIGNATURE", CodeImageMismatch: "IMAGE_MISMATCH", CodeNoOffer: "NO_OFFER",
}

func (c ErrorCode) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("CODE(%d)", uint16(c))
}
