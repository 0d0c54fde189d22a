package docklink

import "time"

// ClockGet asks for the device clock (§8.1). Empty payload.
type ClockGet struct{}

// Clock answers ClockGet (§8.1).
type Clock struct {
	Time time.Time // device clock when the response was built (time64)
}

// ClockSet sets the device clock (§8.2).
type ClockSet struct {
	Time time.Time // the dock's disciplined time when the request was sent (time64, never 0)
}

// ClockSetAck answers ClockSet (§8.2).
type ClockSetAck struct {
	Previous time.Time // device clock just before it was set (time64)
	Now      time.Time // device clock just after it was set (time64)
}

func (*ClockGet) Type() Type    { return TypeClockGet }
func (*Clock) Type() Type       { return TypeClock }
func (*ClockSet) Type() Type    { return TypeClockSet }
func (*ClockSetAck) Type() Type { return TypeClockSetAck }

// AppendPayload encodes §8.1 (empty).
func (*ClockGet) AppendPayload(b []byte) ([]byte, error) { return b, nil }

// DecodePayload decodes §8.1 (empty).
func (*ClockGet) DecodePayload(p []byte) error { return emptyDecode(p) }

// AppendPayload encodes §8.1: time64.
func (m *Clock) AppendPayload(b []byte) ([]byte, error) { return appendTime(b, m.Time), nil }

// DecodePayload decodes §8.1.
func (m *Clock) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Time = d.time()
	return d.finish()
}

// AppendPayload encodes §8.2: time64.
func (m *ClockSet) AppendPayload(b []byte) ([]byte, error) { return appendTime(b, m.Time), nil }

// DecodePayload decodes §8.2.
func (m *ClockSet) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Time = d.time()
	return d.finish()
}

// AppendPayload encodes §8.2: previous time64, now time64.
func (m *ClockSetAck) AppendPayload(b []byte) ([]byte, error) {
	return appendTime(appendTime(b, m.Previous), m.Now), nil
}

// DecodePayload decodes §8.2.
func (m *ClockSetAck) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Previous = d.time()
	m.Now = d.time()
	return d.finish()
}
