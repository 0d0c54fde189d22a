package dock

import (
	"context"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/outbox"
	"github.com/berthdock/berth/agent/report"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/wire"
)

// Buffer is the evidence buffer as the dock uses it: what a slot needs
// (slot.Buffer), what the uploader needs (uploader.Buffer), the stored
// manifest of each segment, its figures, and its space-reclaiming loop.
type Buffer interface {
	slot.Buffer
	slot.HoleKeeper
	slot.OfferKeeper
	uploader.Buffer
	Manifest(serial string, seq uint64) (wire.SegmentManifest, error)
	Stats() BufferStats
	Run(ctx context.Context) error
	// VolumeIndex and SetVolumeIndex keep the numbering of legacy
	// mass-storage recorders' files (massstore.Index).
	VolumeIndex(serial string) (buffer.VolumeIndex, error)
	SetVolumeIndex(serial string, ix buffer.VolumeIndex) error
}

// *buffer.Buffer is the dock's Buffer, and it speaks the slot's and the
// uploader's interfaces directly (they are declared over the buffer's
// own types), so no adapter stands between them.
var _ Buffer = (*buffer.Buffer)(nil)

// BufferStats are the buffer's figures for reports and dockctl.
type BufferStats = buffer.Stats

// Outbox is the persistent outbox as the dock uses it.
type Outbox interface {
	report.Outbox
	Put(m outbox.Message) error
	Len() int
}
