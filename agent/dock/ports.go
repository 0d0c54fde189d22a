package dock

import (
	"context"
	"io"

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
	uploader.Buffer
	Manifest(serial string, seq uint64) (wire.SegmentManifest, error)
	Stats() BufferStats
	Run(ctx context.Context) error
}

// BufferStats are the buffer's figures for reports and dockctl.
type BufferStats = buffer.Stats

// Outbox is the persistent outbox as the dock uses it.
type Outbox interface {
	report.Outbox
	Put(m outbox.Message) error
	Len() int
}

// slotBuffer kicks the uploader when a segment becomes durable.
type slotBuffer struct {
	b    Buffer
	kick func()
}

func (s slotBuffer) Lookup(serial string, seq uint64) (slot.Known, error) {
	return s.b.Lookup(serial, seq)
}
func (s slotBuffer) MarkReleased(serial string, seq uint64) error {
	return s.b.MarkReleased(serial, seq)
}
func (s slotBuffer) Begin(m slot.Meta) (slot.Writer, error) {
	w, err := s.b.Begin(m)
	if err != nil {
		return nil, err
	}
	return kickingWriter{Writer: w, kick: s.kick}, nil
}

type kickingWriter struct {
	slot.Writer
	kick func()
}

func (w kickingWriter) Commit() error {
	err := w.Writer.Commit()
	if err == nil {
		w.kick()
	}
	return err
}

// uploaderBuffer narrows Buffer for the uploader.
type uploaderBuffer struct{ b Buffer }

func (u uploaderBuffer) PendingUpload(limit int) ([]uploader.Pending, error) {
	return u.b.PendingUpload(limit)
}
func (u uploaderBuffer) Open(serial string, seq uint64) (io.ReaderAt, error) {
	return u.b.Open(serial, seq)
}
func (u uploaderBuffer) MarkUploaded(serial string, seq uint64, r wire.Receipt) error {
	return u.b.MarkUploaded(serial, seq, r)
}
