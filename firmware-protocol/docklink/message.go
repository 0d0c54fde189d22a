package docklink

import "fmt"

// Message is one DockLink message: a frame payload of a given Type (§4).
// Every message type has exactly one encoder and one decoder, which are
// symmetric: DecodePayload(AppendPayload(m)) == m for every valid m.
type Message interface {
	// Type is the frame header type code for this message.
	Type() Type
	// AppendPayload appends the encoded payload to b.
	AppendPayload(b []byte) ([]byte, error)
	// DecodePayload replaces the message with the one encoded in p. It
	// returns an error wrapping ErrBadMessage for malformed input. It never
	// retains p, except Data.Bytes which aliases p (see Data).
	DecodePayload(p []byte) error
}

// NewMessage returns a new zero message of type t, or ErrUnknownType.
func NewMessage(t Type) (Message, error) {
	switch t {
	case TypeHello:
		return new(Hello), nil
	case TypeHelloAck:
		return new(HelloAck), nil
	case TypeAuthChallenge:
		return new(AuthChallenge), nil
	case TypeAuthResponse:
		return new(AuthResponse), nil
	case TypeStatusGet:
		return new(StatusGet), nil
	case TypeStatus:
		return new(Status), nil
	case TypeClockGet:
		return new(ClockGet), nil
	case TypeClock:
		return new(Clock), nil
	case TypeClockSet:
		return new(ClockSet), nil
	case TypeClockSetAck:
		return new(ClockSetAck), nil
	case TypeInventoryGet:
		return new(InventoryGet), nil
	case TypeInventoryPage:
		return new(InventoryPage), nil
	case TypeEventsGet:
		return new(EventsGet), nil
	case TypeEventsPage:
		return new(EventsPage), nil
	case TypeRead:
		return new(Read), nil
	case TypeData:
		return new(Data), nil
	case TypeRelease:
		return new(Release), nil
	case TypeReleaseAck:
		return new(ReleaseAck), nil
	case TypePing:
		return new(Ping), nil
	case TypePong:
		return new(Pong), nil
	case TypeError:
		return new(Error), nil
	case TypeFwOffer:
		return new(FwOffer), nil
	case TypeFwOfferAck:
		return new(FwOfferAck), nil
	case TypeFwWrite:
		return new(FwWrite), nil
	case TypeFwWriteAck:
		return new(FwWriteAck), nil
	case TypeFwCommit:
		return new(FwCommit), nil
	case TypeFwCommitAck:
		return new(FwCommitAck), nil
	case TypeFwStatusGet:
		return new(FwStatusGet), nil
	case TypeFwStatus:
		return new(FwStatus), nil
	}
	return nil, fmt.Errorf("%w: 0x%02X", ErrUnknownType, uint8(t))
}

// Decode decodes a payload of type t.
func Decode(t Type, p []byte) (Message, error) {
	m, err := NewMessage(t)
	if err != nil {
		return nil, err
	}
	if err := m.DecodePayload(p); err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	return m, nil
}

// empty is the shared codec of the messages without a payload.
func emptyDecode(p []byte) error {
	d := decoder{p: p}
	return d.finish()
}
