// Package uploader carries buffered footage from the dock to the evidence
// store: segments that follow an interruption first (the collector checks
// their opening seconds for a spoken reason), then oldest first. It uses the
// collector's resumable upload, so a dock restarted or offline for days
// picks up each upload where it stopped, and records a segment as uploaded
// only with the collector's signed receipt for exactly its hash, which is
// the one thing that lets a slot release it on the recorder.
//
// The package holds both the upload loop (Uploader) and the dock's client
// for the collector's upload protocol (HTTPClient, client.go; the protocol
// itself is the contract's, package cloud/wire/upload). The client is where
// a receipt is verified, once, before the uploader records it.
package uploader

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// Buffer is the part of the evidence buffer the uploader uses.
type Buffer interface {
	// PendingUpload lists buffered, unreceipted segments in upload order.
	PendingUpload(limit int) ([]buffer.Pending, error)
	// Open returns the segment's bytes.
	Open(serial string, seq uint64) (io.ReaderAt, error)
	// MarkUploaded durably records the receipt.
	MarkUploaded(serial string, seq uint64, r wire.Receipt) error
}

// Client uploads one segment and returns its receipt, verified: signed by
// the collector's key and naming exactly the segment asked for (device,
// sequence, SHA-256, size). This is the dock's one verification of a
// receipt, made where the collector's answer arrives (HTTPClient.Upload);
// the uploader records what its Client returns, and the slots release on
// what the buffer recorded. A receipt that fails it is an error wrapping
// upload.ErrBadReceipt.
type Client interface {
	Upload(ctx context.Context, device string, seq uint64, size int64, sha256hex string, src io.ReaderAt, progress func(done int64)) (wire.Receipt, error)
}

// Uploader runs the upload loop.
type Uploader struct {
	buf    Buffer
	client Client
	clock  clockwork.Clock
	log    *slog.Logger
	// OnReceipt is called after a receipt is durable (the slots wait on it,
	// the reporter sends the manifest).
	onReceipt func(p buffer.Pending, r wire.Receipt)

	kick chan struct{}

	mu       sync.Mutex
	current  *buffer.Pending
	done     int64
	failures int
	lastErr  error

	// parked holds segments the collector refused for reasons of their own
	// (a receipt conflict, a bad receipt): they wait ParkFor while the
	// rest of the queue goes on, instead of blocking it.
	parked map[segKey]time.Time
}

type segKey struct {
	serial string
	seq    uint64
}

// ParkFor is how long a segment the collector refused waits before it is
// tried again; the rest of the queue is uploaded meanwhile.
const ParkFor = time.Hour

// segmentsFault reports an error that is about this segment, not about the
// collector being unreachable: retrying the same segment at once cannot help.
func segmentsFault(err error) bool {
	return errors.Is(err, upload.ErrRejected) || errors.Is(err, upload.ErrBadReceipt) ||
		errors.Is(err, upload.ErrArgument)
}

// New makes an uploader; a nil clock is the real one.
func New(buf Buffer, client Client, onReceipt func(buffer.Pending, wire.Receipt), clock clockwork.Clock, log *slog.Logger) *Uploader {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &Uploader{buf: buf, client: client, clock: clock, onReceipt: onReceipt, log: log, kick: make(chan struct{}, 1),
		parked: map[segKey]time.Time{}}
}

// IdlePoll is how often the uploader looks at the buffer without a Kick.
const IdlePoll = 30 * time.Second

// newBackoff is the uploader's retry schedule: exponential from 1 s to
// 5 min, each wait jittered by ±50 %.
func newBackoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{InitialInterval: time.Second, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 5 * time.Minute}
	b.Reset()
	return b
}

// Kick tells the uploader a segment was buffered.
func (u *Uploader) Kick() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Progress reports the segment being uploaded, the bytes done, and the last
// error (nil once an upload succeeded again).
func (u *Uploader) Progress() (cur *buffer.Pending, done int64, lastErr error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.current != nil {
		c := *u.current
		cur = &c
	}
	return cur, u.done, u.lastErr
}

// Run uploads until ctx ends. Failures back off exponentially with jitter
// from 1 s to 5 min (newBackoff); the buffer keeps everything meanwhile.
func (u *Uploader) Run(ctx context.Context) error {
	bo := newBackoff()
	for {
		err := u.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := IdlePoll // Kick wakes it sooner
		if err != nil {
			wait = bo.NextBackOff()
			u.log.Warn("upload failed; will retry", "err", err, "in", wait)
		} else {
			bo.Reset()
		}
		timer := u.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-u.kick:
			if err != nil {
				// A kick does not cut a backoff short: the collector is the
				// one failing, not the lack of work.
				select {
				case <-ctx.Done():
					timer.Stop()
					return nil
				case <-timer.Chan():
				}
			}
		case <-timer.Chan():
		}
		timer.Stop()
	}
}

// pass uploads everything pending, one at a time in priority order; a new
// follower buffered meanwhile is picked up by the next pass. A segment the
// collector refuses is parked and the pass goes on with the next one; an
// unreachable collector ends the pass (the caller backs off).
func (u *Uploader) pass(ctx context.Context) error {
	var skipped map[segKey]bool
	for {
		list, err := u.buf.PendingUpload(len(u.parkedNow()) + len(skipped) + 1)
		if err != nil {
			return err
		}
		var next *buffer.Pending
		parked := u.parkedNow()
		for i := range list {
			k := segKey{list[i].Serial, list[i].Seq}
			if !parked[k] && !skipped[k] {
				next = &list[i]
				break
			}
		}
		if next == nil {
			return nil
		}
		err = u.one(ctx, *next)
		if err == nil || ctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		if !segmentsFault(err) {
			return err
		}
		u.log.Error("collector refused a segment; parked, the rest of the queue goes on",
			"serial", next.Serial, "seq", next.Seq, "err", err, "retry_in", ParkFor)
		u.mu.Lock()
		u.parked[segKey{next.Serial, next.Seq}] = u.clock.Now().Add(ParkFor)
		u.mu.Unlock()
		if skipped == nil {
			skipped = map[segKey]bool{}
		}
		skipped[segKey{next.Serial, next.Seq}] = true
	}
}

// parkedNow returns the segments still parked, dropping expired ones.
func (u *Uploader) parkedNow() map[segKey]bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.clock.Now()
	out := make(map[segKey]bool, len(u.parked))
	for k, until := range u.parked {
		if now.Before(until) {
			out[k] = true
		} else {
			delete(u.parked, k)
		}
	}
	return out
}

func (u *Uploader) one(ctx context.Context, p buffer.Pending) error {
	src, err := u.buf.Open(p.Serial, p.Seq)
	if err != nil {
		return err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	u.mu.Lock()
	u.current, u.done = &p, 0
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.current = nil
		u.mu.Unlock()
	}()
	r, err := u.client.Upload(ctx, p.Serial, p.Seq, p.Size, p.SHA256, src, func(done int64) {
		u.mu.Lock()
		u.done = done
		u.mu.Unlock()
	})
	if err != nil {
		u.mu.Lock()
		u.lastErr = err
		u.mu.Unlock()
		return err
	}
	if err := u.buf.MarkUploaded(p.Serial, p.Seq, r); err != nil {
		return err
	}
	u.mu.Lock()
	u.lastErr = nil
	u.mu.Unlock()
	u.log.Info("uploaded", "serial", p.Serial, "seq", p.Seq, "object", r.ObjectID)
	if u.onReceipt != nil {
		u.onReceipt(p, r)
	}
	return nil
}
