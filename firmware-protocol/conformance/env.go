package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// check is one conformance rule.
type check struct {
	rule, name string
	long       bool // reads footage: gets 20× the timeout
	fn         func(ctx context.Context, e *env) (detail string, err error)
}

// skipError marks a check as not applicable.
type skipError struct{ reason string }

func (s skipError) Error() string { return s.reason }

func skip(format string, args ...any) error { return skipError{fmt.Sprintf(format, args...)} }

// env is what the checks share: the dialer, the options and what earlier
// checks learnt about the device.
type env struct {
	dial Dialer
	o    Opts
	log  *slog.Logger
	now  func() time.Time

	info     docklink.DeviceInfo
	ack      *docklink.HelloAck
	status   *docklink.Status
	segs     []docklink.Segment
	verified map[uint64]bool // segments whose bytes hashed to their sha256
	fwStaged bool            // the test image is staged whole (§17.4 check)
}

func newEnv(dial Dialer, opts *Opts) *env {
	e := &env{dial: dial, verified: map[uint64]bool{}}
	if opts != nil {
		e.o = *opts
	}
	if e.o.CheckTimeout <= 0 {
		e.o.CheckTimeout = 30 * time.Second
	}
	e.now = e.o.Now
	if e.now == nil {
		e.now = time.Now
	}
	e.log = e.o.Logger
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e
}

func (e *env) run(ctx context.Context, c check) Result {
	d := e.o.CheckTimeout
	if c.long {
		// Reading footage: allow for every held byte at a slow 5 MB/s on
		// top of the fixed timeout (a full 64 GB recorder takes hours).
		var total uint64
		for _, s := range e.segs {
			total += s.Size
		}
		d += time.Duration(total/(5<<20)) * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	detail, err := c.fn(cctx, e)
	res := Result{Rule: c.rule, Name: c.name, Pass: err == nil, Detail: detail}
	var s skipError
	switch {
	case errors.As(err, &s):
		res.Pass, res.Skip, res.Detail = false, true, s.reason
	case err != nil:
		res.Detail = err.Error()
		if detail != "" {
			res.Detail = detail + ": " + err.Error()
		}
	}
	return res
}

// responseTimeout bounds each awaited response on a raw link.
func (e *env) responseTimeout() time.Duration {
	if e.o.Client != nil && e.o.Client.RequestTimeout > 0 {
		return e.o.Client.RequestTimeout
	}
	return 5 * time.Second
}

// keys returns the enrolled keys, or the announced key when none were given.
func (e *env) keys() docklink.KeyStore {
	if e.o.Keys != nil {
		return e.o.Keys
	}
	return docklink.Keys{e.info.Serial: e.info.PublicKey[:]}
}

// session dials a new link and opens a client session on it: HELLO and,
// if auth, authentication. The returned func closes it.
func (e *env) session(ctx context.Context, auth bool) (*docklink.Client, func(), error) {
	link, err := e.dial(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { link.Close() })
	copts := docklink.ClientOpts{Now: e.now, DockID: "conformance"}
	if e.o.Client != nil {
		copts = *e.o.Client
		if copts.Now == nil {
			copts.Now = e.now
		}
	}
	c := docklink.NewClient(link, &copts)
	closeFn := func() { stop(); c.Close() }
	ack, err := c.Hello(ctx)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	e.ack, e.info = &ack, ack.Info
	if auth {
		if _, err := c.Authenticate(ctx, e.keys()); err != nil {
			closeFn()
			return nil, nil, err
		}
	}
	return c, closeFn, nil
}

// rawLink drives a device frame by frame, to send what a correct dock
// never would and to see exactly what comes back.
type rawLink struct {
	link    io.ReadWriteCloser
	fr      *docklink.Framer
	in      chan rawFrame
	done    chan struct{}
	readErr error // set before done closes
	stop    func() bool
	timeout time.Duration
	nextID  uint32
}

type rawFrame struct {
	h   docklink.Header
	msg docklink.Message
	err error // frame or decode error (the frame was received but bad)
}

func (e *env) raw(ctx context.Context) (*rawLink, error) {
	link, err := e.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	r := &rawLink{link: link, fr: docklink.NewFramer(link, link), in: make(chan rawFrame, 1024),
		done: make(chan struct{}), timeout: e.responseTimeout(), nextID: 100}
	r.fr.SetLimits(docklink.MaxPayload, docklink.MaxPayload)
	r.stop = context.AfterFunc(ctx, func() { link.Close() })
	go r.readLoop()
	if err := r.fr.WriteRaw([]byte{0}); err != nil {
		r.close()
		return nil, fmt.Errorf("write: %w", err)
	}
	return r, nil
}

func (r *rawLink) readLoop() {
	defer close(r.done)
	defer close(r.in)
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			if docklink.Recoverable(err) {
				r.in <- rawFrame{err: err}
				continue
			}
			r.readErr = err
			return
		}
		m, derr := docklink.Decode(f.Type, f.Payload)
		r.in <- rawFrame{h: f.Header, msg: m, err: derr}
	}
}

func (r *rawLink) close() {
	r.stop()
	r.link.Close()
	for range r.in { // drain so the reader can finish
	}
	<-r.done
}

func (r *rawLink) id() uint32 { r.nextID++; return r.nextID }

// send writes m with a fresh request id and returns the id.
func (r *rawLink) send(m docklink.Message) (uint32, error) {
	id := r.id()
	if err := r.fr.WriteMessage(id, m); err != nil {
		return id, fmt.Errorf("write %s: %w", m.Type(), err)
	}
	return id, nil
}

// recv returns the next frame from the device.
func (r *rawLink) recv(ctx context.Context) (rawFrame, error) {
	t := time.NewTimer(r.timeout)
	defer t.Stop()
	select {
	case f, ok := <-r.in:
		if !ok {
			<-r.done
			return f, fmt.Errorf("link ended: %v", r.readErr)
		}
		if f.err != nil {
			return f, fmt.Errorf("device sent a bad frame: %w", f.err)
		}
		return f, nil
	case <-t.C:
		return rawFrame{}, fmt.Errorf("no response within %s", r.timeout)
	case <-ctx.Done():
		return rawFrame{}, ctx.Err()
	}
}

// expectType reads one frame and checks its id and type.
func (r *rawLink) expectType(ctx context.Context, id uint32, t docklink.Type) (docklink.Message, error) {
	f, err := r.recv(ctx)
	if err != nil {
		return nil, err
	}
	if f.h.ReqID != id || f.h.Type != t {
		return f.msg, fmt.Errorf("got %s, want %s with id %d", describe(f), t, id)
	}
	return f.msg, nil
}

// expectCode reads one frame and checks it is ERROR code with id.
func (r *rawLink) expectCode(ctx context.Context, id uint32, code docklink.ErrorCode) error {
	f, err := r.recv(ctx)
	if err != nil {
		return err
	}
	e, ok := f.msg.(*docklink.Error)
	if !ok || e.Code != code || f.h.ReqID != id {
		return fmt.Errorf("got %s, want ERROR %s with id %d", describe(f), code, id)
	}
	return nil
}

func describe(f rawFrame) string {
	if e, ok := f.msg.(*docklink.Error); ok {
		return fmt.Sprintf("ERROR %s (%q) with id %d", e.Code, e.Message, f.h.ReqID)
	}
	return fmt.Sprintf("%s with id %d", f.h.Type, f.h.ReqID)
}

// ping checks the link still works: PING answered by PONG.
func (r *rawLink) ping(ctx context.Context) error {
	id, err := r.send(&docklink.Ping{})
	if err != nil {
		return err
	}
	if _, err := r.expectType(ctx, id, docklink.TypePong); err != nil {
		return fmt.Errorf("link not usable afterwards: %w", err)
	}
	return nil
}

// hello opens a session on the raw link.
func (r *rawLink) hello(ctx context.Context) (*docklink.HelloAck, error) {
	id, err := r.send(&docklink.Hello{MinVersion: 1, MaxVersion: 1, Capabilities: docklink.CapAll, MaxPayload: docklink.MaxPayload, DockID: "conformance"})
	if err != nil {
		return nil, err
	}
	m, err := r.expectType(ctx, id, docklink.TypeHelloAck)
	if err != nil {
		return nil, fmt.Errorf("hello: %w", err)
	}
	ack := m.(*docklink.HelloAck)
	r.fr.SetSendLimit(int(ack.MaxPayload))
	return ack, nil
}

// auth answers the device's challenge gate without verifying (the §6.2
// check verifies).
func (r *rawLink) auth(ctx context.Context) error {
	id, err := r.send(&docklink.AuthChallenge{Nonce: [32]byte{1, 2, 3}})
	if err != nil {
		return err
	}
	_, err = r.expectType(ctx, id, docklink.TypeAuthResponse)
	return err
}
