package docklink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrBadFirmwareAck reports a firmware response that contradicts its
// request (an FW_WRITE_ACK whose held count is not the end of the write).
var ErrBadFirmwareAck = errors.New("docklink: firmware ack does not match its request")

// FirmwareStatus reads the device's firmware state (§17.6).
func (c *Client) FirmwareStatus(ctx context.Context) (FwStatus, error) {
	st, err := expect[*FwStatus](ctx, c, &FwStatusGet{})
	if err != nil {
		return FwStatus{}, err
	}
	return *st, nil
}

// OfferFirmware offers an image (§17.3). The ack says how many bytes the
// device already holds of it (resume) and the largest write it takes. A
// signature the device's vendor key does not verify is a *Error with
// CodeBadSignature.
func (c *Client) OfferFirmware(ctx context.Context, o FwOffer) (FwOfferAck, error) {
	ack, err := expect[*FwOfferAck](ctx, c, &o)
	if err != nil {
		return FwOfferAck{}, err
	}
	if ack.Held > o.Size {
		return FwOfferAck{}, fmt.Errorf("%w: device holds %d bytes of a %d-byte image", ErrBadFirmwareAck, ack.Held, o.Size)
	}
	return *ack, nil
}

// WriteFirmware sends img[from:size] with FW_WRITEs of at most maxWrite
// bytes, keeping up to Window of them outstanding (§17.4). progress, if
// set, is called with the bytes the device holds after each ack. It
// returns the bytes the device holds durably when it stopped: size on
// success; after a broken link, offer again on a new session and continue
// from the ack's Held.
func (c *Client) WriteFirmware(ctx context.Context, img io.ReaderAt, size, from uint64, maxWrite uint32, progress func(held uint64)) (uint64, error) {
	ack, err := c.session()
	if err != nil {
		return from, err
	}
	if from > size {
		return from, fmt.Errorf("docklink: firmware write from %d beyond size %d", from, size)
	}
	chunk := min(maxWrite, ack.MaxPayload-FwWriteHeaderSize)
	if chunk == 0 {
		return from, fmt.Errorf("%w: max_write 0", ErrBadFirmwareAck)
	}
	win := min(c.o.Window, int(ack.MaxOutstanding))
	type inflight struct {
		cl  *call
		end uint64
	}
	var q []inflight
	defer func() {
		for _, f := range q {
			c.forget(f.cl)
		}
	}()
	held, next := from, from
	buf := make([]byte, chunk)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for len(q) < win && next < size {
			n := uint64(min(uint64(chunk), size-next))
			if _, err := img.ReadAt(buf[:n], int64(next)); err != nil && !(errors.Is(err, io.EOF) && n > 0) {
				return held, fmt.Errorf("docklink: firmware image at %d: %w", next, err)
			}
			// The framer encodes the payload before WriteMessage returns,
			// so buf can be reused for the next write.
			cl, err := c.send(&FwWrite{Offset: next, Bytes: buf[:n]})
			if err != nil {
				return held, fmt.Errorf("docklink: firmware write at %d: %w", next, err)
			}
			next += n
			q = append(q, inflight{cl, next})
		}
		if len(q) == 0 {
			return held, nil
		}
		head := q[0]
		q = q[1:]
		r, err := c.wait(ctx, head.cl, timer)
		if err != nil {
			c.putBuf(r.buf)
			return held, fmt.Errorf("docklink: firmware write ending at %d: %w", head.end, err)
		}
		wa, ok := r.msg.(*FwWriteAck)
		c.putBuf(r.buf)
		if !ok {
			return held, fmt.Errorf("%w: FW_WRITE answered with %s", ErrUnexpected, r.msg.Type())
		}
		if wa.Held != head.end {
			return held, fmt.Errorf("%w: write ending at %d acknowledged as %d held", ErrBadFirmwareAck, head.end, wa.Held)
		}
		held = wa.Held
		if progress != nil {
			progress(held)
		}
	}
}

// CommitFirmware asks the device to verify the whole image and install it
// at the next boot (§17.5); with reboot the device restarts right after
// the ack and the link ends. It returns the version that boots next. A
// hash mismatch is a *Error with CodeImageMismatch (the device discarded
// the image).
func (c *Client) CommitFirmware(ctx context.Context, sha [32]byte, reboot bool) (string, error) {
	ack, err := expect[*FwCommitAck](ctx, c, &FwCommit{SHA256: sha, Reboot: reboot})
	if err != nil {
		return "", err
	}
	return ack.Version, nil
}

// Done is closed when the link has ended (the device closed it, it
// failed, or Close was called). After CommitFirmware with reboot, wait on
// it before opening the next link: the device reboots only once it has
// sent the ack.
func (c *Client) Done() <-chan struct{} { return c.done }
