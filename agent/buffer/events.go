package buffer

import (
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// EventCursor is where the dock stopped reading a recorder's event log
// (DockLink §10): the last event it made durable for the collector, its
// index and device time. The next docking reads from there; the time tells
// a log that was reset (the recorder restarted its numbering) from one
// that grew.
type EventCursor struct {
	Index uint64    `json:"index"`
	Time  time.Time `json:"time"`
}

// eventCursorKey is "buffer/e/" serial: one per recorder.
func eventCursorKey(serial string) []byte {
	return append([]byte(Prefix+string(tagEvents)+"/"), serial...)
}

// EventCursor returns where reading serial's event log stopped; the zero
// cursor if it was never read here.
func (b *Buffer) EventCursor(serial string) (EventCursor, error) {
	if err := wire.ValidID(serial); err != nil {
		return EventCursor{}, fmt.Errorf("buffer: event cursor: %w", err)
	}
	var c EventCursor
	if _, err := b.readKept(eventCursorKey(serial), "event cursor of "+serial, &c); err != nil {
		return EventCursor{}, err
	}
	return c, nil
}

// SetEventCursor durably records where reading serial's event log stopped.
// Call it only once the events up to c are durable for the collector (in
// the outbox): a crash in between reads them again, which the collector
// folds by index.
func (b *Buffer) SetEventCursor(serial string, c EventCursor) error {
	if err := wire.ValidID(serial); err != nil {
		return fmt.Errorf("buffer: event cursor: %w", err)
	}
	return b.keep(eventCursorKey(serial), "event cursor of "+serial, c)
}
