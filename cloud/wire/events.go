package wire

import (
	"time"
	"unicode/utf8"
)

// Recorder event kinds in RecorderEvent.Kind: DockLink's event log (§10.3),
// by the names the docklink package gives them.
const (
	EventPowerOn     = "power-on"
	EventPowerOff    = "power-off"
	EventRecordStart = "record-start" // Seq names the segment being recorded
	EventRecordStop  = "record-stop"  // Seq names the segment closed
	EventButtonMark  = "button-mark"
	EventLowBattery  = "low-battery" // alarm
	EventStorageFull = "storage-full"
	EventFault       = "fault" // alarm; Detail says what
	EventClockSet    = "clock-set"
	EventDocked      = "docked"
	EventUndocked    = "undocked"
	EventReleased    = "released"
	EventUnknown     = "unknown"
)

var eventKinds = map[string]bool{EventPowerOn: true, EventPowerOff: true, EventRecordStart: true, EventRecordStop: true,
	EventButtonMark: true, EventLowBattery: true, EventStorageFull: true, EventFault: true, EventClockSet: true,
	EventDocked: true, EventUndocked: true, EventReleased: true, EventUnknown: true}

// ValidEventKind reports whether s is a recorder event kind of v1.
func ValidEventKind(s string) bool { return eventKinds[s] }

// MaxEventsPart bounds the events one recorder.events message carries; a
// longer read goes in several messages. With DockLink's 255-byte details
// it keeps a message well under MaxPayload.
const MaxEventsPart = 500

// MaxEventDetail bounds an event's detail in characters (DockLink's str8
// holds at most 255 bytes).
const MaxEventDetail = 255

// RecorderEvent is one entry of the recorder's own event log as the dock
// read it (DockLink §10.3). Time is the device clock; the collector
// corrects it as it corrects segments' times.
type RecorderEvent struct {
	Index  uint64    `json:"index"` // per-device, from 1, +1 per event, never reused
	Time   time.Time `json:"time"`  // device clock
	Kind   string    `json:"kind"`
	Seq    uint64    `json:"seq,omitempty"` // related segment, 0 if none
	Detail string    `json:"detail,omitempty"`
}

// RecorderEvents is a run of a recorder's event log read at one docking,
// on berth/v1/docks/{dock}/events: the events after the last index the dock
// had read before (from the first docking: the whole log), in ascending
// index. DockedAt names the docking (the device.health snapshot's); the
// collector trusts the events only from the dock that reported that
// docking.
type RecorderEvents struct {
	Serial   string          `json:"serial"`
	DockedAt time.Time       `json:"docked_at"`
	Events   []RecorderEvent `json:"events"`
}

func (b *RecorderEvents) Validate() error {
	if err := ValidID(b.Serial); err != nil {
		return err
	}
	if b.DockedAt.IsZero() {
		return invalid("missing docked_at")
	}
	if len(b.Events) == 0 || len(b.Events) > MaxEventsPart {
		return invalid("%d events in one message (1..%d)", len(b.Events), MaxEventsPart)
	}
	var prev uint64
	for _, e := range b.Events {
		if e.Index == 0 || e.Index <= prev {
			return invalid("event index %d not ascending from 1", e.Index)
		}
		prev = e.Index
		if !eventKinds[e.Kind] {
			return invalid("event %d kind %q", e.Index, e.Kind)
		}
		if utf8.RuneCountInString(e.Detail) > MaxEventDetail {
			return invalid("event %d detail", e.Index)
		}
	}
	return nil
}
