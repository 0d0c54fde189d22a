package slot

import (
	"context"
	"io"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/chargesense"
	"github.com/berthdock/berth/drivers/led"
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

// Buffer is the dock's evidence buffer as a slot uses it.
type Buffer interface {
	Lookup(serial string, seq uint64) (buffer.Known, error)
	Begin(m buffer.Meta) (buffer.Writer, error)
	MarkReleased(serial string, seq uint64) error
	// Manifest is the segment's report as the buffer holds it, brought up
	// to date with each change (buffered, fault, uploaded, released): the
	// one place a manifest is built after the copy began.
	Manifest(serial string, seq uint64) (wire.SegmentManifest, error)
	// EventCursor and SetEventCursor keep, per recorder, where reading its
	// event log stopped (durably: SetEventCursor returns once synced).
	EventCursor(serial string) (buffer.EventCursor, error)
	SetEventCursor(serial string, c buffer.EventCursor) error
}

// Receipts waits for the uploader.
type Receipts interface {
	// Wait returns once the segment's receipt is held, or ctx ends. A
	// receipt is held only once the uploader verified it (the collector's
	// signature, and that it names exactly the buffered segment).
	Wait(ctx context.Context, serial string, seq uint64) (wire.Receipt, error)
}

// Reports receives what the slot tells the collector and the custodian.
// Implementations make them durable (outbox, audit log) before returning.
type Reports interface {
	Slot(st wire.SlotState)
	Device(h wire.DeviceHealth)
	Manifest(m wire.SegmentManifest)
	// Docking reports the recorder's inventory before copying and the
	// end of the copy (wire.Docking).
	Docking(d wire.Docking)
	// Events reports a run of the recorder's event log (wire.RecorderEvents);
	// it is durable when Events returns.
	Events(e wire.RecorderEvents)
	// Checkout reports that an officer took the recorder offered to them.
	Checkout(c wire.Checkout)
	Audit(action string, slot int, serial string, seq uint64, detail string)
	// Authenticated records (wire.AuditAuthenticated) that the recorder
	// proved holding its enrolled key, with its proof (DockLink §6.5) for
	// the collector to check.
	Authenticated(slot int, serial, detail string, proof *wire.AuthProof)
}
