// Package seriallink opens a slot's recorder serial port (USB CDC-ACM) by its
// stable udev path, e.g. /dev/serial/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0,
// with go.bug.st/serial.
//
// A Dev is an io.ReadWriteCloser. Unplugging the recorder (or closing the
// pseudo-terminal that simulates it) makes Read and Write fail with an error
// wrapping ErrUnplugged; they keep failing that way until Reconnect, which
// waits with a ctx-aware, jittered backoff for the path to come back. The
// reconnect is explicit on purpose: a DockLink session does not survive an
// unplug, so the caller must know and start over.
//
// Pseudo-terminals work as ports, so recsim's pty mode exercises this code.
package seriallink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jonboulle/clockwork"
	"go.bug.st/serial"
	"periph.io/x/conn/v3"
)

// ErrUnplugged means the port is gone: the recorder was removed, its USB
// link dropped, or the path does not exist (yet).
var ErrUnplugged = errors.New("seriallink: port unplugged")

// ErrClosed is returned after Close or Halt.
var ErrClosed = errors.New("seriallink: port closed")

// ErrTimeout is returned by Read when Opts.ReadTimeout passes without data.
// It wraps os.ErrDeadlineExceeded.
var ErrTimeout = fmt.Errorf("seriallink: read timeout: %w", os.ErrDeadlineExceeded)

// ErrPort wraps a port that exists but cannot be opened or configured
// (permissions, busy, not a tty).
var ErrPort = errors.New("seriallink: cannot open port")

// Opts configures a Dev.
type Opts struct {
	// Baud is set on the port; USB CDC-ACM ignores it, real UARTs do not.
	Baud int
	// ReadTimeout bounds one Read; zero blocks until data, unplug or Close.
	ReadTimeout time.Duration
	// MinBackoff and MaxBackoff bound Reconnect's waits between attempts.
	MinBackoff, MaxBackoff time.Duration
	// Clock drives Reconnect's backoff; nil means the real clock.
	Clock clockwork.Clock
	// Logger receives unplug/replug logs; nil discards them.
	Logger *slog.Logger
}

// DefaultOpts: 115200 baud, blocking reads, 100 ms to 5 s backoff.
var DefaultOpts = Opts{
	Baud:       115200,
	MinBackoff: 100 * time.Millisecond,
	MaxBackoff: 5 * time.Second,
}

// Dev is one slot's serial link.
type Dev struct {
	path  string
	opts  Opts
	clock clockwork.Clock
	log   *slog.Logger

	mu        sync.Mutex
	port      serial.Port // nil while unplugged or closed
	target    string      // device node the path resolved to at open
	closed    bool
	unplugged error // cause of the last unplug, nil while connected
}

var (
	_ io.ReadWriteCloser = (*Dev)(nil)
	_ conn.Resource      = (*Dev)(nil)
)

// New opens the port at path (a by-path symlink, a tty or a pty), the
// path standing for the bus in periph's New(bus, *Opts) form. A path that
// does not exist gives an error wrapping ErrUnplugged.
func New(path string, opts *Opts) (*Dev, error) { return Open(path, opts) }

// Open is New under the name os.Open readers look for.
func Open(path string, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
	}
	if o.Baud <= 0 {
		o.Baud = DefaultOpts.Baud
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultOpts.MinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(o.MinBackoff, DefaultOpts.MaxBackoff)
	}
	d := &Dev{path: path, opts: o, clock: o.Clock, log: o.Logger}
	if d.clock == nil {
		d.clock = clockwork.NewRealClock()
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.log = d.log.With("port", path)
	p, target, err := d.open()
	if err != nil {
		return nil, err
	}
	d.port, d.target = p, target
	return d, nil
}

func (d *Dev) open() (serial.Port, string, error) {
	target, err := filepath.EvalSymlinks(d.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%w: %s: %w", ErrUnplugged, d.path, err)
		}
		return nil, "", fmt.Errorf("%w: %s: %w", ErrPort, d.path, err)
	}
	p, err := serial.Open(target, &serial.Mode{BaudRate: d.opts.Baud})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%w: %s: %w", ErrUnplugged, d.path, err)
		}
		return nil, "", fmt.Errorf("%w: %s (%s): %w", ErrPort, d.path, target, err)
	}
	if d.opts.ReadTimeout > 0 {
		if err := p.SetReadTimeout(d.opts.ReadTimeout); err != nil {
			_ = p.Close()
			return nil, "", fmt.Errorf("%w: %s: setting read timeout: %w", ErrPort, d.path, err)
		}
	}
	return p, target, nil
}

// String names the link and the device node it resolved to.
func (d *Dev) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.target != "" && d.target != d.path {
		return fmt.Sprintf("seriallink{%s -> %s}", d.path, d.target)
	}
	return fmt.Sprintf("seriallink{%s}", d.path)
}

// Path returns the path the link was opened with.
func (d *Dev) Path() string { return d.path }

// Target returns the device node the path resolved to when last opened.
func (d *Dev) Target() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.target
}

// Unplugged reports whether the port is gone (until Reconnect succeeds).
func (d *Dev) Unplugged() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.unplugged != nil
}

// current returns the open port or the error explaining why there is none.
func (d *Dev) current() (serial.Port, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return nil, ErrClosed
	case d.unplugged != nil:
		return nil, fmt.Errorf("%w: %s: %w", ErrUnplugged, d.path, d.unplugged)
	}
	return d.port, nil
}

// failed classifies an I/O error on p: after Close it is ErrClosed,
// otherwise the port is considered unplugged and closed.
// The port is closed outside d.mu: go.bug.st/serial's Close waits for a
// pending Read, which itself ends up here.
func (d *Dev) failed(p serial.Port, op string, err error) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	mine := d.port == p
	if mine {
		d.unplugged = err
		d.port = nil
	}
	d.mu.Unlock()
	if mine {
		_ = p.Close()
		d.log.Info("seriallink: port unplugged", "op", op, "err", err)
	}
	return fmt.Errorf("%w: %s: %s: %w", ErrUnplugged, d.path, op, err)
}

// Read implements io.Reader.
func (d *Dev) Read(b []byte) (int, error) {
	p, err := d.current()
	if err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	n, err := p.Read(b)
	if err != nil {
		return n, d.failed(p, "read", err)
	}
	if n == 0 {
		return 0, ErrTimeout
	}
	return n, nil
}

// Write implements io.Writer.
func (d *Dev) Write(b []byte) (int, error) {
	p, err := d.current()
	if err != nil {
		return 0, err
	}
	n, err := p.Write(b)
	if err != nil {
		return n, d.failed(p, "write", err)
	}
	if n < len(b) {
		return n, io.ErrShortWrite
	}
	return n, nil
}

// Reconnect waits for the path to come back and reopens it, retrying with
// a jittered exponential backoff until it succeeds or ctx ends. It returns
// at once when the port is connected.
func (d *Dev) Reconnect(ctx context.Context) error {
	// The tree's one backoff (cenkalti/backoff), shaped so each wait falls
	// between half and all of an exponentially growing step that starts at
	// MinBackoff and stops at MaxBackoff: the interval is the step's 3/4,
	// randomised by a third either way.
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     d.opts.MinBackoff * 3 / 4,
		RandomizationFactor: 1.0 / 3,
		Multiplier:          2,
		MaxInterval:         d.opts.MaxBackoff * 3 / 4,
	}
	bo.Reset()
	for attempt := 1; ; attempt++ {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return ErrClosed
		}
		if d.unplugged == nil {
			d.mu.Unlock()
			return nil
		}
		d.mu.Unlock()

		p, target, err := d.open()
		if err == nil {
			d.mu.Lock()
			if d.closed {
				d.mu.Unlock()
				_ = p.Close()
				return ErrClosed
			}
			d.port, d.target, d.unplugged = p, target, nil
			d.mu.Unlock()
			d.log.Info("seriallink: port back", "target", target, "attempts", attempt)
			return nil
		}
		if !errors.Is(err, ErrUnplugged) && !errors.Is(err, ErrPort) {
			return err
		}
		t := d.clock.NewTimer(bo.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.Chan():
		}
	}
}

// Close closes the port; a blocked Read returns ErrClosed.
func (d *Dev) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	p := d.port
	d.port = nil
	d.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Close() // outside d.mu: it waits for a pending Read
}

// Halt closes the link (conn.Resource style).
func (d *Dev) Halt() error { return d.Close() }
