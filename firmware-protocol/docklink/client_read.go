package docklink

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// readParams returns the negotiated READ length and window (§11.3).
func (c *Client) readParams() (uint32, int, error) {
	ack, err := c.session()
	if err != nil {
		return 0, 0, err
	}
	size := min(c.o.ReadSize, ack.MaxRead, c.o.MaxPayload-DataHeaderSize)
	win := min(c.o.Window, int(ack.MaxOutstanding))
	return size, win, nil
}

// ReadSegment copies seg's bytes from offset to its end into w, in order,
// keeping up to Window READs outstanding so the link stays full (§11.3).
// It returns the bytes written to w. After a broken link, open a new
// Client (Hello, Authenticate) and call again with offset advanced by n —
// or by the bytes already durable, whichever the caller trusts (§11.5).
// ReadSegment does not verify the hash; see CopySegment.
func (c *Client) ReadSegment(ctx context.Context, seg Segment, offset int64, w io.Writer) (n int64, err error) {
	if offset < 0 || uint64(offset) > seg.Size {
		return 0, fmt.Errorf("docklink: read seq %d: offset %d outside 0..%d", seg.Seq, offset, seg.Size)
	}
	size, win, err := c.readParams()
	if err != nil {
		return 0, err
	}
	type inflight struct {
		cl  *call
		off uint64
		len uint32
	}
	var q []inflight // in offset order
	defer func() {
		for _, f := range q {
			c.forget(f.cl)
			select { // a response may already be queued: recycle its buffer
			case r := <-f.cl.ch:
				c.putBuf(r.buf)
			default:
			}
		}
	}()
	next := uint64(offset)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for len(q) < win && next < seg.Size {
			l := uint32(min(uint64(size), seg.Size-next))
			cl, err := c.send(&Read{Seq: seg.Seq, Offset: next, Length: l})
			if err != nil {
				return n, fmt.Errorf("docklink: read seq %d at %d: %w", seg.Seq, next, err)
			}
			q = append(q, inflight{cl, next, l})
			next += uint64(l)
		}
		if len(q) == 0 {
			return n, nil
		}
		head := q[0]
		q = q[1:]
		r, err := c.wait(ctx, head.cl, timer)
		for try := 0; errors.Is(err, ErrRequestTimeout) && try < c.o.ReadRetries; try++ {
			// READ is idempotent (§14): ask again; a late answer to the
			// first request is discarded as unmatched.
			c.log.Warn("docklink: read timed out, retrying", "seq", seg.Seq, "offset", head.off, "try", try+1)
			cl, serr := c.send(&Read{Seq: seg.Seq, Offset: head.off, Length: head.len})
			if serr != nil {
				err = serr
				break
			}
			head.cl = cl
			r, err = c.wait(ctx, head.cl, timer)
		}
		if err != nil {
			c.putBuf(r.buf)
			return n, fmt.Errorf("docklink: read seq %d at %d: %w", seg.Seq, head.off, err)
		}
		d, ok := r.msg.(*Data)
		if !ok {
			return n, fmt.Errorf("%w: READ answered with %s", ErrUnexpected, r.msg.Type())
		}
		if d.Seq != seg.Seq || d.Offset != head.off || len(d.Bytes) != int(head.len) {
			c.putBuf(r.buf)
			return n, fmt.Errorf("%w: asked seq %d at %d for %d bytes, got seq %d at %d, %d bytes (%w)",
				ErrBadData, seg.Seq, head.off, head.len, d.Seq, d.Offset, len(d.Bytes), ErrShortSegment)
		}
		k, werr := w.Write(d.Bytes)
		n += int64(k)
		c.putBuf(r.buf)
		if werr != nil {
			return n, fmt.Errorf("docklink: read seq %d: write: %w", seg.Seq, werr)
		}
	}
}

// CopySegment is ReadSegment with SHA-256 verification (§11.5). h must
// already hold the segment's bytes [0, offset) — the bytes durable from an
// earlier, interrupted copy — or be nil when offset is 0. (The state of a
// crypto/sha256 hash marshals with encoding.BinaryMarshaler, so a dock can
// save it beside the durable bytes and resume after a restart.) On success the
// hash of the whole segment equals seg.SHA256; otherwise the error wraps
// ErrHashMismatch and the caller must not treat the copy as evidence.
func (c *Client) CopySegment(ctx context.Context, seg Segment, offset int64, h hash.Hash, w io.Writer) (int64, error) {
	if h == nil {
		if offset != 0 {
			return 0, fmt.Errorf("docklink: copy seq %d: resuming at %d needs the hash of the bytes before it", seg.Seq, offset)
		}
		h = sha256.New()
	}
	if h.Size() != sha256.Size {
		return 0, fmt.Errorf("docklink: copy seq %d: hash size %d is not sha-256's", seg.Seq, h.Size())
	}
	n, err := c.ReadSegment(ctx, seg, offset, io.MultiWriter(h, w))
	if err != nil {
		return n, err
	}
	var sum [32]byte
	if got := h.Sum(sum[:0]); [32]byte(got) != seg.SHA256 {
		return n, fmt.Errorf("%w: seq %d: computed %x, recorder says %x", ErrHashMismatch, seg.Seq, got, seg.SHA256)
	}
	return n, nil
}
