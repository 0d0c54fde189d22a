package recsim

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// ServerOpts configures a Server. With neither TCP nor PTY set, each
// recorder listens on its own 127.0.0.1 port.
type ServerOpts struct {
	// TCP is the listen address of the first recorder. With port 0 each
	// recorder gets its own free port; with port P, recorder i listens on
	// P+i.
	TCP string
	// PTY gives each recorder a pseudo-terminal (Linux). A dock opens its
	// slave through a stable symlink, PTYDir/<serial>, as udev's by-path
	// names: after an injected disconnect the link disappears and comes
	// back (ReplugDelay later) pointing at a new pty, like a USB replug.
	PTY    bool
	PTYDir string // default: a temporary directory removed when Run ends
	// ReplugDelay is how long an unplugged pty recorder stays away.
	// Default 200 ms.
	ReplugDelay time.Duration
	// Logger receives sessions and transport errors. nil discards.
	Logger *slog.Logger
}

// Endpoint is where a dock reaches one served recorder.
type Endpoint struct {
	Serial    string
	PublicKey ed25519.PublicKey
	Addr      string // TCP host:port, "" without TCP
	PTYPath   string // pty symlink for drivers/seriallink, "" without PTY
}

// Server serves recorders, each on its own TCP listener and/or pty, one
// session per connection or open; a dropped link's recorder is served
// again on the next one, state kept. Build with NewServer (which binds
// the listeners and makes the ptys, so Endpoints are known at once), then
// Run until ctx ends.
type Server struct {
	recs    []*Recorder
	lns     []net.Listener
	ptys    []*ptyPort
	o       ServerOpts
	log     *slog.Logger
	tmpDir  string // PTYDir made by NewServer
	closeMu sync.Mutex
	closed  bool
}

// ErrNoPTY is returned for PTY serving where pseudo-terminals are not
// supported.
var ErrNoPTY = errors.New("recsim: pseudo-terminals are not supported here")

// NewServer binds a listener and/or makes a pty for every recorder.
func NewServer(recs []*Recorder, opts *ServerOpts) (_ *Server, err error) {
	s := &Server{recs: recs}
	if opts != nil {
		s.o = *opts
	}
	if s.o.TCP == "" && !s.o.PTY {
		s.o.TCP = "127.0.0.1:0"
	}
	if s.o.ReplugDelay <= 0 {
		s.o.ReplugDelay = 200 * time.Millisecond
	}
	s.log = s.o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.Serial()] {
			return nil, fmt.Errorf("%w: serial %q served twice", ErrConfig, r.Serial())
		}
		seen[r.Serial()] = true
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.o.TCP != "" {
		host, port, err := net.SplitHostPort(s.o.TCP)
		if err != nil {
			return nil, fmt.Errorf("%w: tcp %q: %w", ErrConfig, s.o.TCP, err)
		}
		p0, err := strconv.Atoi(port)
		if err != nil || p0 < 0 || p0+len(recs) > 65536 {
			return nil, fmt.Errorf("%w: tcp port %q", ErrConfig, port)
		}
		for i := range recs {
			p := 0
			if p0 != 0 {
				p = p0 + i
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
			if err != nil {
				return nil, fmt.Errorf("recsim: listen: %w", err)
			}
			s.lns = append(s.lns, ln)
		}
	}
	if s.o.PTY {
		dir := s.o.PTYDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "recsim-pty-"); err != nil {
				return nil, fmt.Errorf("recsim: pty dir: %w", err)
			}
			s.tmpDir = dir
		}
		for _, r := range recs {
			p, err := newPTY(ptyLink(dir, r.Serial()))
			if err != nil {
				return nil, err
			}
			s.ptys = append(s.ptys, p)
		}
	}
	return s, nil
}

// Endpoints lists the recorders and where to reach them, in the order given.
func (s *Server) Endpoints() []Endpoint {
	out := make([]Endpoint, len(s.recs))
	for i, r := range s.recs {
		out[i] = Endpoint{Serial: r.Serial(), PublicKey: r.PublicKey(), Addr: s.Addr(i), PTYPath: s.PTYPath(i)}
	}
	return out
}

// Recorders returns the served recorders, in the order given.
func (s *Server) Recorders() []*Recorder { return s.recs }

// Addr is recorder i's TCP address ("" without TCP or out of range).
func (s *Server) Addr(i int) string {
	if i < 0 || i >= len(s.lns) {
		return ""
	}
	return s.lns[i].Addr().String()
}

// PTYPath is recorder i's pty path for seriallink.Open ("" without PTY
// or out of range).
func (s *Server) PTYPath(i int) string {
	if i < 0 || i >= len(s.ptys) {
		return ""
	}
	return s.ptys[i].path
}

// Run serves until ctx ends (nil) or a listener fails (its error). It
// joins every session and closes the listeners and ptys before returning.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(s.lns)+len(s.ptys))
	for i, ln := range s.lns {
		rec := s.recs[i]
		wg.Go(func() { errc <- s.accept(ctx, &wg, ln, rec) })
	}
	for i, p := range s.ptys {
		rec := s.recs[i]
		wg.Go(func() { errc <- s.servePTY(ctx, p, rec) })
	}
	stop := context.AfterFunc(ctx, func() { s.closeListeners() })
	var first error
	for range len(s.lns) + len(s.ptys) {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	stop()
	wg.Wait()
	return errors.Join(first, s.Close())
}

func (s *Server) accept(ctx context.Context, wg *sync.WaitGroup, ln net.Listener, rec *Recorder) error {
	log := s.log.With("recorder", rec.Serial(), "addr", ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("recsim: accept for %s: %w", rec.Serial(), err)
		}
		wg.Go(func() {
			log.Debug("recsim: link up", "peer", c.RemoteAddr().String())
			if err := rec.ServeConn(ctx, c); err != nil {
				log.Info("recsim: session ended", "err", err)
			}
		})
	}
}

func (s *Server) closeListeners() {
	for _, ln := range s.lns {
		_ = ln.Close() // Accept returns net.ErrClosed: that is the signal
	}
}

// Close releases the listeners and ptys (Run does it when it ends; call
// it yourself only if Run never ran).
func (s *Server) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.closeListeners()
	var errs []error
	for _, p := range s.ptys {
		errs = append(errs, p.close())
	}
	if s.tmpDir != "" {
		errs = append(errs, os.RemoveAll(s.tmpDir))
	}
	return errors.Join(errs...)
}
