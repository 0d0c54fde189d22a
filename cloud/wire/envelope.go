package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SchemaVersion is the envelope version this package writes and accepts.
const SchemaVersion = 1

// MaxPayload bounds one MQTT payload; larger ones are rejected unread.
const MaxPayload = 256 << 10

// Message types carried in Envelope.Type.
const (
	TypeDockState       = "dock.state"
	TypeSlotState       = "slot.state"
	TypeDeviceHealth    = "device.health"
	TypeSegmentManifest = "segment.manifest"
	TypeAuditRecord     = "audit.record"
	TypeAck             = "ack"
	TypeCommand         = "cmd"
	TypeDocking         = "docking"
	TypeFirmware        = "firmware.progress"
	TypeRecorderEvents  = "recorder.events"
	TypeCheckout        = "checkout"
)

// Envelope wraps every report. ID is unique per dock and stable across
// redelivery: the collector commits a (dock, id) once and acknowledges it as
// often as it arrives.
type Envelope struct {
	V    int             `json:"v"`
	ID   string          `json:"id"`
	Dock string          `json:"dock"`
	Time time.Time       `json:"time"`
	Type string          `json:"type"`
	Body json.RawMessage `json:"body"`
}

// Errors of envelope decoding, each a reason the collector counts.
var (
	ErrTooLarge    = errors.New("wire: payload too large")
	ErrMalformed   = errors.New("wire: malformed envelope")
	ErrVersion     = errors.New("wire: unsupported schema version")
	ErrUnknownType = errors.New("wire: unknown message type")
)

// NewEnvelope marshals body into an envelope.
func NewEnvelope(id, dock string, t time.Time, typ string, body any) (Envelope, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Envelope{}, fmt.Errorf("wire: marshal %s body: %w", typ, err)
	}
	return Envelope{V: SchemaVersion, ID: id, Dock: dock, Time: t.UTC(), Type: typ, Body: b}, nil
}

// Marshal encodes the envelope as JSON.
func (e Envelope) Marshal() ([]byte, error) { return json.Marshal(e) }

// DecodeEnvelope parses and checks the envelope fields (not the body: see
// DecodeBody). It never panics on hostile input.
func DecodeEnvelope(payload []byte) (Envelope, error) {
	if len(payload) > MaxPayload {
		return Envelope{}, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(payload), MaxPayload)
	}
	var e Envelope
	if err := json.Unmarshal(payload, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if e.V != SchemaVersion {
		return Envelope{}, fmt.Errorf("%w: v=%d", ErrVersion, e.V)
	}
	if e.ID == "" || len(e.ID) > 128 {
		return Envelope{}, fmt.Errorf("%w: id length %d", ErrMalformed, len(e.ID))
	}
	if err := ValidID(e.Dock); err != nil {
		return Envelope{}, fmt.Errorf("%w: dock: %w", ErrMalformed, err)
	}
	if e.Time.IsZero() {
		return Envelope{}, fmt.Errorf("%w: missing time", ErrMalformed)
	}
	if _, ok := bodyTypes[e.Type]; !ok {
		return Envelope{}, fmt.Errorf("%w: %q", ErrUnknownType, e.Type)
	}
	if len(e.Body) == 0 || string(e.Body) == "null" {
		return Envelope{}, fmt.Errorf("%w: missing body", ErrMalformed)
	}
	return e, nil
}

// bodyTypes maps each message type to a constructor of its body.
var bodyTypes = map[string]func() Body{
	TypeDockState:       func() Body { return new(DockState) },
	TypeSlotState:       func() Body { return new(SlotState) },
	TypeDeviceHealth:    func() Body { return new(DeviceHealth) },
	TypeSegmentManifest: func() Body { return new(SegmentManifest) },
	TypeAuditRecord:     func() Body { return new(AuditRecord) },
	TypeAck:             func() Body { return new(Ack) },
	TypeCommand:         func() Body { return new(Command) },
	TypeDocking:         func() Body { return new(Docking) },
	TypeFirmware:        func() Body { return new(FirmwareProgress) },
	TypeRecorderEvents:  func() Body { return new(RecorderEvents) },
	TypeCheckout:        func() Body { return new(Checkout) },
}

// Body is implemented by every message body; Validate checks the fields a
// JSON decoder cannot.
type Body interface {
	Validate() error
}

// DecodeBody decodes and validates the envelope's body into its Go type
// (*DockState, *SlotState, ...). Unknown fields are rejected.
func DecodeBody(e Envelope) (Body, error) {
	mk, ok := bodyTypes[e.Type]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, e.Type)
	}
	b := mk()
	dec := json.NewDecoder(bytes.NewReader(e.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(b); err != nil {
		return nil, fmt.Errorf("%w: %s body: %w", ErrMalformed, e.Type, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s body: trailing data", ErrMalformed, e.Type)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s body: %w", ErrMalformed, e.Type, err)
	}
	return b, nil
}
