package docklink

import "time"

// Event is one entry of the recorder's event log (§10.3).
type Event struct {
	Index  uint64    // per-device event number: starts at 1, +1 per event, never reused
	Time   time.Time // device clock (time64)
	Kind   EventKind
	Seq    uint64 // related segment, 0 if none
	Detail string // free text, e.g. the fault description
}

// EventsGet asks for a page of the event log (§10.1).
type EventsGet struct {
	AfterIndex uint64 // return events with Index > AfterIndex; 0 for the first page
	MaxCount   uint16 // at most this many events (1–65535)
}

// EventsPage answers EventsGet (§10.1).
type EventsPage struct {
	Events []Event // strictly ascending Index, all > AfterIndex
	More   bool    // more events exist after the last one in this page
}

func (*EventsGet) Type() Type  { return TypeEventsGet }
func (*EventsPage) Type() Type { return TypeEventsPage }

// AppendPayload encodes §10.1: after_index u64, max_count u16.
func (m *EventsGet) AppendPayload(b []byte) ([]byte, error) {
	return appendU16(appendU64(b, m.AfterIndex), m.MaxCount), nil
}

// DecodePayload decodes §10.1.
func (m *EventsGet) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.AfterIndex = d.u64()
	m.MaxCount = d.u16()
	if d.err == nil && m.MaxCount == 0 {
		d.fail("max_count 0")
	}
	return d.finish()
}

const minEventSize = 8 + 8 + 1 + 8 + 1

// AppendPayload encodes §10.2: count u16, events, more u8.
func (m *EventsPage) AppendPayload(b []byte) ([]byte, error) {
	if len(m.Events) > 0xFFFF {
		return b, ErrFieldTooLong
	}
	b = appendU16(b, uint16(len(m.Events)))
	var err error
	for i := range m.Events {
		if b, err = m.Events[i].append(b); err != nil {
			return b, err
		}
	}
	return appendU8(b, boolByte(m.More)), nil
}

// DecodePayload decodes §10.2.
func (m *EventsPage) DecodePayload(p []byte) error {
	d := decoder{p: p}
	n := int(d.u16())
	if n > len(d.p)/minEventSize {
		d.fail("event count %d does not fit %d bytes", n, len(d.p))
		n = 0
	}
	m.Events = nil
	if n > 0 {
		m.Events = make([]Event, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		m.Events[i].decode(&d)
	}
	m.More = d.boolean()
	return d.finish()
}

// §10.3: index u64, time time64, kind u8, seq u64, detail str8.
func (e *Event) append(b []byte) ([]byte, error) {
	b = appendU64(b, e.Index)
	b = appendTime(b, e.Time)
	b = appendU8(b, uint8(e.Kind))
	b = appendU64(b, e.Seq)
	return appendStr(b, e.Detail)
}

func (e *Event) decode(d *decoder) {
	e.Index = d.u64()
	e.Time = d.time()
	e.Kind = EventKind(d.u8())
	e.Seq = d.u64()
	e.Detail = d.str()
	if d.err == nil && !e.Kind.Valid() {
		d.fail("event kind %d", e.Kind)
	}
	if d.err == nil && e.Index == 0 {
		d.fail("event index 0")
	}
}

// EncodedSize returns the bytes e takes in an EVENTS_PAGE (§10.3).
func (e *Event) EncodedSize() int { return minEventSize + len(e.Detail) }
