package recsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// errCut is what the device side of a cut link sees.
var errCut = errors.New("recsim: link cut")

// link is the device end of one session's byte stream, as a recorder's
// USB stack sees it: writes go through the speed cap and the link faults.
// The speed cap is golang.org/x/time/rate's token bucket (already in
// go.mod, exact token accounting, and ReserveN lets the wait select on
// the link's end instead of a stored context).
type link struct {
	rw  io.ReadWriter
	cut func() error // closes the transport (TCP conn, pty master)
	r   *Recorder

	done chan struct{} // closed when the session or its ctx ends: abandons a rate wait
	once sync.Once

	mu       sync.Mutex
	sent     uint64 // bytes written this session
	atDelim  bool   // the last byte written was a frame delimiter
	cutCause error
}

func (r *Recorder) newLink(rw io.ReadWriter, cut func() error) *link {
	return &link{rw: rw, cut: cut, r: r, done: make(chan struct{}), atDelim: true}
}

// Read implements io.Reader; a powered-off recorder reads nothing more.
func (l *link) Read(p []byte) (int, error) {
	if err := l.check(); err != nil {
		return 0, err
	}
	n, err := l.rw.Read(p)
	if err == nil && l.r.PoweredOff() {
		l.sever(ErrPoweredOff)
		return 0, errCut
	}
	return n, err
}

// SetReadDeadline lets device.Serve interrupt a blocked read.
func (l *link) SetReadDeadline(t time.Time) error {
	if d, ok := l.rw.(interface{ SetReadDeadline(time.Time) error }); ok {
		return d.SetReadDeadline(t)
	}
	return errors.ErrUnsupported
}

func (l *link) check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cutCause != nil {
		return errCut
	}
	return nil
}

// sever cuts the link for cause (once).
func (l *link) sever(cause error) {
	l.mu.Lock()
	first := l.cutCause == nil
	if first {
		l.cutCause = cause
	}
	l.mu.Unlock()
	if first {
		l.r.log.Info("recsim: link cut", "cause", cause)
		if err := l.cut(); err != nil {
			l.r.log.Debug("recsim: closing cut link", "err", err)
		}
	}
}

func (l *link) cause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cutCause
}

// Write implements io.Writer: injected faults, then the speed cap.
func (l *link) Write(p []byte) (int, error) {
	if err := l.check(); err != nil {
		return 0, err
	}
	if l.r.PoweredOff() {
		l.sever(ErrPoweredOff)
		return 0, errCut
	}
	if l.r.takePowerCut() {
		l.sever(ErrPowerCut)
		return 0, errCut
	}
	orig := len(p)
	p = l.corrupt(p)
	limit := len(p)
	cutting := false
	if at := l.r.cutAt; at > 0 && !l.r.cutDone.Load() {
		l.mu.Lock()
		if l.sent+uint64(len(p)) >= at && l.r.cutDone.CompareAndSwap(false, true) {
			limit, cutting = int(at-l.sent), true
		}
		l.mu.Unlock()
	}
	n, err := l.paced(p[:limit])
	l.mu.Lock()
	l.sent += uint64(n)
	if n > 0 {
		l.atDelim = p[n-1] == 0
	}
	l.mu.Unlock()
	if cutting && err == nil {
		l.sever(fmt.Errorf("%w after %d bytes", ErrDisconnected, l.r.cutAt))
		return min(n, orig), errCut
	}
	if err == nil {
		return orig, nil // all of p (re-encoded by corrupt, maybe longer) written
	}
	return min(n, orig), err
}

// Close closes the transport (device.Serve's fallback to stop a read).
func (l *link) Close() error { return l.cut() }

// paced writes p in token-bucket sized chunks.
func (l *link) paced(p []byte) (int, error) {
	lim := l.r.lim
	if lim == nil {
		return l.rw.Write(p)
	}
	written := 0
	for written < len(p) {
		c := min(len(p)-written, l.r.chunk)
		res := lim.ReserveN(time.Now(), c)
		if !res.OK() {
			return written, fmt.Errorf("recsim: rate limiter refused %d bytes", c)
		}
		if d := res.Delay(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				res.Cancel()
				return written, errCut
			}
		}
		n, err := l.rw.Write(p[written : written+c])
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// corrupt applies FaultCorruptFrame: the Nth frame sent gets one byte of
// its plain frame flipped and is re-encoded, so its COBS is valid and its
// CRC-32C is not (§3.4). device.Serve writes one whole frame per Write;
// a frame split over writes gets a non-zero data byte flipped instead.
func (l *link) corrupt(p []byte) []byte {
	target := l.r.corruptAt
	if target == 0 {
		return p
	}
	l.mu.Lock()
	atDelim := l.atDelim
	l.mu.Unlock()
	delims := uint64(bytes.Count(p, []byte{0}))
	if delims == 0 {
		return p
	}
	before := l.r.framesSent.Add(delims) - delims // frames completed before p
	if target <= before || target > before+delims {
		return p
	}
	// The frame that ends at the (target-before)th delimiter of p.
	k := int(target - before)
	start, end := 0, 0
	for i, c := 0, 0; i < len(p); i++ {
		if p[i] == 0 {
			c++
			if c == k {
				end = i
				break
			}
			start = i + 1
		}
	}
	whole := start > 0 || atDelim
	out := make([]byte, 0, len(p)+2)
	out = append(out, p[:start]...)
	frame := p[start:end]
	if plain, err := docklink.DecodeCOBS(nil, frame); whole && err == nil && len(plain) > 0 {
		plain[len(plain)/2] ^= 0x5A
		out = append(docklink.AppendCOBS(out, plain), p[end:]...)
	} else {
		cp := append([]byte(nil), frame...)
		if len(cp) > 1 {
			i := len(cp) / 2
			if cp[i]^0x20 != 0 {
				cp[i] ^= 0x20
			} else {
				cp[i] ^= 0x40
			}
		}
		out = append(append(out, cp...), p[end:]...)
	}
	l.r.log.Info("recsim: frame corrupted", "frame", target)
	return out
}

// ServeConn runs one DockLink session with the recorder on conn (a new
// link: §3.1, §13) and closes conn when it ends. It returns nil when the
// link or ctx ended, an error wrapping ErrDisconnected when an injected
// disconnect cut it, ErrPoweredOff when the battery is (or went) empty,
// and the link's error otherwise.
//
// On a TCP connection an injected cut is a half-close: the bytes the
// recorder sent before the cut reach the dock, then end of stream. A plain
// close while the dock's later frames sit unread would reset the
// connection, and the dock's kernel would drop those bytes: how many
// arrived would then depend on timing, not on the fault's byte count.
func (r *Recorder) ServeConn(ctx context.Context, conn io.ReadWriteCloser) error {
	hc, ok := conn.(halfCloser)
	if !ok {
		defer conn.Close()
		return r.serveLink(ctx, conn, conn.Close)
	}
	var halfClosed atomic.Bool
	err := r.serveLink(ctx, conn, func() error {
		halfClosed.Store(true)
		werr := hc.CloseWrite()
		_ = hc.SetReadDeadline(time.Unix(1, 0)) // ends device.Serve's read
		return werr
	})
	if halfClosed.Load() {
		// Read what the dock still sends until it closes its end (it saw
		// end of stream), bounded, so the final close resets nothing.
		_ = hc.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.Copy(io.Discard, conn)
	}
	conn.Close()
	return err
}

// halfCloser is a transport that can end its sending side alone (TCP).
type halfCloser interface {
	CloseWrite() error
	SetReadDeadline(time.Time) error
}

// serveLink serves one session on rw; cut closes the transport.
func (r *Recorder) serveLink(ctx context.Context, rw io.ReadWriter, cut func() error) error {
	if r.PoweredOff() {
		return ErrPoweredOff
	}
	l := r.newLink(rw, cut)
	stop := func() { l.once.Do(func() { close(l.done) }) }
	defer stop()
	defer context.AfterFunc(ctx, func() {
		stop()
		// device.Serve interrupts its read; a write blocked on a dock that
		// stopped reading needs its own deadline.
		if d, ok := rw.(interface{ SetWriteDeadline(time.Time) error }); ok {
			_ = d.SetWriteDeadline(time.Unix(1, 0)) // unsupported: Serve's close of the link ends it
		}
	})()
	err := device.Serve(ctx, l, r, &r.devo)
	if errors.Is(err, device.ErrRebooted) {
		l.sever(err) // the USB port goes away while the recorder boots
	}
	if c := l.cause(); c != nil {
		return c
	}
	return err
}
