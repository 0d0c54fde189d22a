package docklink

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ClientOpts tunes a Client. Zero fields take the DefaultClientOpts value.
type ClientOpts struct {
	// RequestTimeout bounds each request from send to response (§14).
	RequestTimeout time.Duration
	// Window is the number of READs kept outstanding by ReadSegment (§11.3),
	// capped by the device's MaxOutstanding.
	Window int
	// ReadSize is the length of each READ (§11.1), capped by the device's
	// MaxRead.
	ReadSize uint32
	// MaxPayload is the largest frame payload the dock accepts (§3.5).
	MaxPayload uint32
	// PageSize is the MaxCount of INVENTORY_GET and EVENTS_GET (§9.1).
	PageSize uint16
	// ReadRetries is how often ReadSegment re-sends a READ that timed out
	// (a request or response lost to line noise, §3.6, §14) before giving
	// up. Default 2; negative means never.
	ReadRetries int
	// DockID is sent in HELLO for the device's event log, and named by
	// authentication nonces (§6.5).
	DockID string
	// Now is the dock's (NTP-disciplined) clock, used for clock offsets
	// and the time an authentication nonce names (§6.5).
	Now func() time.Time
	// Rand is the source of the random salt of authentication nonces
	// (§6.5). Default crypto/rand.
	Rand io.Reader
	// Logger receives rejected frames and unmatched responses.
	Logger *slog.Logger
}

// DefaultClientOpts are the values used for zero ClientOpts fields.
var DefaultClientOpts = ClientOpts{
	RequestTimeout: 5 * time.Second,
	Window:         8,
	ReadSize:       256 << 10,
	MaxPayload:     MaxPayload,
	PageSize:       1024,
	ReadRetries:    2,
	Now:            time.Now,
	Rand:           rand.Reader,
}

// ClientStats counts a client's traffic.
type ClientStats struct {
	BadFrames  uint64 // frames the framer rejected (§3.6)
	Unmatched  uint64 // responses for no outstanding request (late or unknown id)
	LinkErrors uint64 // ERROR frames with request id 0 (the device rejected one of our frames)
	Timeouts   uint64
}

// Client is the dock side of one DockLink link (§4). Methods are safe for
// concurrent use; responses are matched to requests by id, so they may
// arrive in any order. A Client owns one goroutine reading the link, joined
// by Close. Requests honour ctx and the request timeout while waiting for
// a response; a write blocked on a stalled link is released by Close.
type Client struct {
	rw  io.ReadWriteCloser
	fr  *Framer
	o   ClientOpts
	log *slog.Logger

	wmu sync.Mutex // serialises frame writes and the send limit

	mu      sync.Mutex
	pending map[uint32]chan result
	nextID  uint32
	linkErr error     // why the reader stopped
	ack     *HelloAck // negotiated session, nil before Hello

	done    chan struct{} // closed when the reader goroutine exits
	closing atomic.Bool
	bufs    sync.Pool // *[]byte for DATA payloads

	badFrames, unmatched, linkErrors, timeouts atomic.Uint64
}

type result struct {
	msg Message
	buf *[]byte // pooled buffer DATA bytes alias; returned by the receiver
	err error
}

// NewClient starts a client on rw and its reader goroutine. It writes one
// 0x00 so the device discards any line noise before the first frame (§3.6).
// Call Hello, then Authenticate, before anything else (§13).
func NewClient(rw io.ReadWriteCloser, opts *ClientOpts) *Client {
	o := DefaultClientOpts
	if opts != nil {
		mergeClientOpts(&o, opts)
	}
	c := &Client{rw: rw, fr: NewFramer(rw, rw), o: o, log: o.Logger, pending: map[uint32]chan result{}, done: make(chan struct{})}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	// The dock accepts its full MaxPayload from the start; only the send
	// limit waits for HELLO_ACK (§3.5).
	c.fr.SetLimits(int(o.MaxPayload), MinPayload)
	go c.readLoop()
	c.wmu.Lock()
	err := c.fr.WriteRaw([]byte{0})
	c.wmu.Unlock()
	if err != nil {
		c.log.Warn("docklink: writing the initial delimiter failed", "err", err)
	}
	return c
}

func mergeClientOpts(o *ClientOpts, p *ClientOpts) {
	if p.RequestTimeout > 0 {
		o.RequestTimeout = p.RequestTimeout
	}
	if p.Window > 0 {
		o.Window = p.Window
	}
	if p.ReadSize > 0 {
		o.ReadSize = p.ReadSize
	}
	if p.MaxPayload > 0 {
		o.MaxPayload = uint32(clampPayload(int(p.MaxPayload)))
	}
	if p.PageSize > 0 {
		o.PageSize = p.PageSize
	}
	if p.ReadRetries != 0 {
		o.ReadRetries = max(p.ReadRetries, 0)
	}
	if p.Now != nil {
		o.Now = p.Now
	}
	if p.Rand != nil {
		o.Rand = p.Rand
	}
	o.DockID, o.Logger = p.DockID, p.Logger
}

// Close closes the link, fails outstanding requests with ErrClosed and
// joins the reader goroutine.
func (c *Client) Close() error {
	c.closing.Store(true)
	err := c.rw.Close()
	<-c.done
	return err
}

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats {
	return ClientStats{BadFrames: c.badFrames.Load(), Unmatched: c.unmatched.Load(), LinkErrors: c.linkErrors.Load(), Timeouts: c.timeouts.Load()}
}

// readLoop is the only reader of the link: it decodes frames and hands each
// response to the request with its id.
func (c *Client) readLoop() {
	defer close(c.done)
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			if Recoverable(err) {
				c.badFrames.Add(1)
				c.log.Warn("docklink: frame rejected", "err", err)
				continue
			}
			c.fail(err)
			return
		}
		c.mu.Lock()
		ch, ok := c.pending[f.ReqID]
		delete(c.pending, f.ReqID)
		c.mu.Unlock()
		if !ok {
			if f.ReqID == 0 && f.Type == TypeError {
				c.linkErrors.Add(1)
				var e Error
				_ = e.DecodePayload(f.Payload) // best effort, for the log only
				c.log.Warn("docklink: device rejected a frame", "code", e.Code, "msg", e.Message)
			} else {
				c.unmatched.Add(1)
				c.log.Debug("docklink: unmatched response", "type", f.Type, "id", f.ReqID)
			}
			continue
		}
		ch <- c.decodeResult(f)
	}
}

func (c *Client) decodeResult(f Frame) result {
	if f.Type != TypeData {
		m, err := Decode(f.Type, f.Payload)
		return result{msg: m, err: err}
	}
	// DATA bytes alias the payload: copy them out of the framer's buffer
	// into a pooled one the receiver returns (putBuf).
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	*bp = append((*bp)[:0], f.Payload...)
	var d Data
	if err := d.DecodePayload(*bp); err != nil {
		c.putBuf(bp)
		return result{err: fmt.Errorf("%s: %w", f.Type, err)}
	}
	return result{msg: &d, buf: bp}
}

func (c *Client) putBuf(bp *[]byte) {
	if bp != nil {
		c.bufs.Put(bp)
	}
}

// fail records why the link ended and fails every outstanding request.
func (c *Client) fail(err error) {
	if c.closing.Load() {
		err = ErrClosed
	} else {
		err = fmt.Errorf("%w: %w", ErrLinkDown, err)
	}
	c.mu.Lock()
	c.linkErr = err
	for id, ch := range c.pending {
		ch <- result{err: err}
		delete(c.pending, id)
	}
	c.mu.Unlock()
}

// call is one outstanding request.
type call struct {
	id   uint32
	ch   chan result
	sent time.Time
}

// send registers a request id and writes the request (§4.2).
func (c *Client) send(req Message) (*call, error) {
	cl := &call{ch: make(chan result, 1)}
	c.mu.Lock()
	if c.linkErr != nil {
		err := c.linkErr
		c.mu.Unlock()
		return nil, err
	}
	c.nextID++
	if c.nextID == 0 { // 0 is reserved for link-level errors (§4.2)
		c.nextID = 1
	}
	cl.id = c.nextID
	c.pending[cl.id] = cl.ch
	c.mu.Unlock()

	c.wmu.Lock()
	cl.sent = time.Now()
	err := c.fr.WriteMessage(cl.id, req)
	c.wmu.Unlock()
	if err != nil {
		c.forget(cl)
		if c.closing.Load() {
			return nil, ErrClosed
		}
		var fe error
		if errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrFieldTooLong) || errors.Is(err, ErrBadMessage) {
			fe = fmt.Errorf("docklink: send %s: %w", req.Type(), err) // our message, not the link
		} else {
			fe = fmt.Errorf("%w: send %s: %w", ErrLinkDown, req.Type(), err)
		}
		return nil, fe
	}
	return cl, nil
}

// forget abandons a request; a late response is counted as unmatched.
func (c *Client) forget(cl *call) {
	c.mu.Lock()
	delete(c.pending, cl.id)
	c.mu.Unlock()
}

// wait waits for the response to cl, the request timeout or ctx. A
// response already delivered wins even if the timeout has passed meanwhile
// (a slow consumer must not turn answered READs into timeouts).
func (c *Client) wait(ctx context.Context, cl *call, t *time.Timer) (result, error) {
	select {
	case r := <-cl.ch:
		return c.outcome(r)
	default:
	}
	d := c.o.RequestTimeout - time.Since(cl.sent)
	if t == nil {
		t = time.NewTimer(d)
		defer t.Stop()
	} else {
		t.Reset(d)
	}
	select {
	case r := <-cl.ch:
		return c.outcome(r)
	case <-ctx.Done():
		c.forget(cl)
		return result{}, ctx.Err()
	case <-t.C:
		c.forget(cl)
		c.timeouts.Add(1)
		return result{}, fmt.Errorf("%w after %s (id %d)", ErrRequestTimeout, c.o.RequestTimeout, cl.id)
	}
}

// outcome turns a delivered result into the caller's error: a link error,
// or the device's ERROR as a *Error.
func (c *Client) outcome(r result) (result, error) {
	if r.err != nil {
		return r, r.err
	}
	if e, ok := r.msg.(*Error); ok {
		return r, e
	}
	return r, nil
}

// Do sends req and returns the device's response. A device ERROR is
// returned as a *Error error. Do is the raw request the typed methods are
// built on; the conformance suite uses it directly.
func (c *Client) Do(ctx context.Context, req Message) (Message, error) {
	cl, err := c.send(req)
	if err != nil {
		return nil, err
	}
	r, err := c.wait(ctx, cl, nil)
	if err != nil {
		c.putBuf(r.buf)
		return nil, err
	}
	if r.buf != nil { // a DATA answer through Do: give the caller its own copy
		d := r.msg.(*Data)
		d.Bytes = append([]byte(nil), d.Bytes...)
		c.putBuf(r.buf)
	}
	return r.msg, nil
}

// expect sends req and checks the response type.
func expect[T Message](ctx context.Context, c *Client, req Message) (T, error) {
	var zero T
	m, err := c.Do(ctx, req)
	if err != nil {
		return zero, fmt.Errorf("docklink: %s: %w", req.Type(), err)
	}
	t, ok := m.(T)
	if !ok {
		return zero, fmt.Errorf("%w: %s answered with %s", ErrUnexpected, req.Type(), m.Type())
	}
	return t, nil
}

var errNoHello = fmt.Errorf("%w: call Hello first", ErrNotNegotiated)

// session returns the negotiated HELLO_ACK.
func (c *Client) session() (*HelloAck, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ack == nil {
		return nil, errNoHello
	}
	return c.ack, nil
}
