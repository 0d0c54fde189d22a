package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Stats counts a session's traffic and rejections. Share one across
// sessions to aggregate; fields are updated atomically.
type Stats struct {
	FramesIn   atomic.Uint64 // valid frames received
	FramesOut  atomic.Uint64 // frames sent
	BadFrames  atomic.Uint64 // frames rejected by the framer (§3.6)
	Refused    atomic.Uint64 // requests answered with ERROR
	BytesRead  atomic.Uint64 // segment bytes served in DATA
	Released   atomic.Uint64 // segments released
	AuthServed atomic.Uint64 // challenges signed
}

// state is the session state of §13.
type state int

const (
	stateConnected     state = iota // link up, no HELLO yet
	stateNegotiated                 // HELLO answered, no challenge yet
	stateAuthenticated              // AUTH_CHALLENGE answered
)

func (s state) String() string {
	return [...]string{"CONNECTED", "NEGOTIATED", "AUTHENTICATED"}[s]
}

// Serve runs one DockLink session on rw (§13) and returns when the link
// ends (nil), ctx is done (nil) or the link fails (the error). To stop a
// blocked read when ctx ends, Serve sets a past read deadline if rw has
// SetReadDeadline (net.Conn, *os.File), else closes rw if it is an
// io.Closer; otherwise it returns at the next frame or link end.
//
// After a FW_COMMIT with reboot set (§17.5) Serve answers it, calls the
// Firmware backend's FirmwareReboot and returns ErrRebooted: the caller
// ends the link, as a rebooting recorder's USB port does.
//
// On a pseudo-terminal master, the dock closing the slave side reads as
// EIO: Serve returns that error (errors.Is(err, syscall.EIO)) and the
// caller decides when the next link starts (§3.1).
//
// Serve executes requests one at a time, in order, and answers each before
// reading the next; Backend calls happen on Serve's goroutine.
func Serve(ctx context.Context, rw io.ReadWriter, b Backend, opts *Opts) error {
	s := newSession(rw, b, opts)
	stop := context.AfterFunc(ctx, func() { interrupt(rw) })
	defer stop()
	err := s.run()
	if errors.Is(err, ErrRebooted) {
		return err
	}
	if ctx.Err() != nil || linkEnded(err) {
		return nil
	}
	return err
}

func interrupt(rw io.ReadWriter) {
	if d, ok := rw.(interface{ SetReadDeadline(time.Time) error }); ok {
		if d.SetReadDeadline(time.Unix(1, 0)) == nil {
			return
		}
	}
	if c, ok := rw.(io.Closer); ok {
		_ = c.Close() // the close is the signal; its error says nothing more
	}
}

func linkEnded(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed)
}

type session struct {
	fr    *docklink.Framer
	b     Backend
	o     Opts
	log   *slog.Logger
	stats *Stats

	state   state
	maxRead uint32
	caps    docklink.Capability
	buf     []byte // READ buffer, maxRead bytes

	fw fwSession // the accepted firmware offer (§17)

	open struct { // the segment being read, kept open across READs
		seq  uint64
		size uint64
		r    io.ReaderAt
	}
}

func newSession(rw io.ReadWriter, b Backend, opts *Opts) *session {
	o := DefaultOpts
	if opts != nil {
		if opts.MaxPayload != 0 {
			o.MaxPayload = opts.MaxPayload
		}
		if opts.MaxRead != 0 {
			o.MaxRead = opts.MaxRead
		}
		if opts.MaxOutstanding != 0 {
			o.MaxOutstanding = opts.MaxOutstanding
		}
		if opts.Capabilities != 0 {
			o.Capabilities = opts.Capabilities
		}
		o.Logger, o.Stats = opts.Logger, opts.Stats
	}
	o.MaxPayload = uint32(min(max(o.MaxPayload, docklink.MinPayload), docklink.MaxPayload))
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := o.Stats
	if st == nil {
		st = new(Stats)
	}
	return &session{fr: docklink.NewFramer(rw, rw), b: b, o: o, log: log, stats: st}
}

func (s *session) run() error {
	defer s.closeOpen()
	for {
		f, err := s.fr.ReadFrame()
		if err != nil {
			if !docklink.Recoverable(err) {
				return err
			}
			// §3.6: answer a rejected frame with ERROR; the request id is
			// trusted only when the CRC was good.
			s.stats.BadFrames.Add(1)
			s.log.Warn("docklink frame rejected", "err", err)
			id := uint32(0)
			if !errors.Is(err, docklink.ErrCRC) {
				id = f.ReqID
			}
			if err := s.send(id, &docklink.Error{Code: docklink.CodeFor(err), Message: truncate(err.Error())}); err != nil {
				return err
			}
			continue
		}
		s.stats.FramesIn.Add(1)
		resp := s.handle(f)
		if e, ok := resp.(*docklink.Error); ok {
			s.stats.Refused.Add(1)
			s.log.Info("docklink request refused", "type", f.Type, "id", f.ReqID, "code", e.Code, "msg", e.Message)
		}
		if err := s.send(f.ReqID, resp); err != nil {
			return err
		}
		if s.fw.reboot {
			s.log.Info("docklink: rebooting to install firmware", "version", s.fw.offer.Version)
			s.b.(Firmware).FirmwareReboot()
			return ErrRebooted
		}
	}
}

func (s *session) send(id uint32, m docklink.Message) error {
	if err := s.fr.WriteMessage(id, m); err != nil {
		return fmt.Errorf("device: write %s: %w", m.Type(), err)
	}
	s.stats.FramesOut.Add(1)
	return nil
}

// refuse builds an ERROR response.
func refuse(code docklink.ErrorCode, format string, args ...any) *docklink.Error {
	return &docklink.Error{Code: code, Message: truncate(fmt.Sprintf(format, args...))}
}

func truncate(s string) string {
	if len(s) <= docklink.MaxString {
		return s
	}
	// Cut on a rune boundary so the str8 stays valid UTF-8.
	for i := docklink.MaxString; i > 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return s[:i]
		}
	}
	return ""
}

func (s *session) closeOpen() {
	if c, ok := s.open.r.(io.Closer); ok {
		_ = c.Close() // read-only handle: nothing to lose on close
	}
	s.open.r, s.open.seq, s.open.size = nil, 0, 0
}
