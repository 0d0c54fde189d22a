//go:build linux

package recsim

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/berthdock/berth/firmware-protocol/device"
)

// ptyPort is one recorder's pseudo-terminal, reached through a stable
// symlink (path) the way udev's /dev/serial/by-path names reach a USB
// recorder. The dock opening the slave starts a link; its last close
// (the master reads EIO, polls HUP) ends it (PROTOCOL.md §3.1).
type ptyPort struct {
	path string

	mu     sync.Mutex
	master *os.File
	dev    string // /dev/pts/N behind path
}

func ptyLink(dir, serial string) string { return filepath.Join(dir, url.PathEscape(serial)) }

func newPTY(path string) (*ptyPort, error) {
	p := &ptyPort{path: path}
	if err := p.plug(); err != nil {
		return nil, err
	}
	return p, nil
}

// plug makes a new pty in raw mode (§3.1: no echo, no CR/LF translation)
// and points the symlink at its slave.
func (p *ptyPort) plug() error {
	m0, s, err := pty.Open()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoPTY, err)
	}
	dev := s.Name()
	m, err := pollable(m0)
	if err != nil {
		s.Close()
		return fmt.Errorf("recsim: pty %s: %w", dev, err)
	}
	err = makeRaw(s)
	if cerr := s.Close(); err == nil {
		err = cerr // the dock opens its own descriptor; ours must go for HUP to work
	}
	if err != nil {
		m.Close()
		return fmt.Errorf("recsim: pty %s: %w", dev, err)
	}
	tmp := p.path + ".new"
	_ = os.Remove(tmp)
	if err := os.Symlink(dev, tmp); err != nil {
		m.Close()
		return fmt.Errorf("recsim: pty link: %w", err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		m.Close()
		return fmt.Errorf("recsim: pty link: %w", err)
	}
	p.mu.Lock()
	p.master, p.dev = m, dev
	p.mu.Unlock()
	return nil
}

// pollable returns the master as a non-blocking, poller-managed file.
// creack/pty's ioctls call Fd(), which puts the descriptor in blocking
// mode: deadlines then cannot stop a write blocked on a full pty. A dup in
// non-blocking mode (O_NONBLOCK is shared by both descriptors) makes them
// work again.
func pollable(m *os.File) (*os.File, error) {
	fd, err := unix.Dup(int(m.Fd()))
	if cerr := m.Close(); err == nil && cerr != nil {
		unix.Close(fd)
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), nil
}

func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// unplug closes the master (the dock's reads fail: the recorder is gone)
// and removes the symlink, as udev does on a USB unplug.
func (p *ptyPort) unplug() error {
	p.mu.Lock()
	m := p.master
	p.master = nil
	p.mu.Unlock()
	var err error
	if m != nil {
		err = m.Close()
	}
	if rerr := os.Remove(p.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

func (p *ptyPort) close() error { return p.unplug() }

func (p *ptyPort) current() *os.File {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.master
}

// hungUp reports whether no one has the slave open.
func hungUp(m *os.File) (bool, error) {
	rc, err := m.SyscallConn()
	if err != nil {
		return false, err
	}
	var hup bool
	var perr error
	if err := rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		_, perr = unix.Poll(fds, 0)
		hup = fds[0].Revents&unix.POLLHUP != 0
	}); err != nil {
		return false, err
	}
	if errors.Is(perr, unix.EINTR) {
		perr = nil
	}
	return hup, perr
}

// waitOpen waits until the dock opens the slave (a link starts).
func waitOpen(ctx context.Context, m *os.File) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		hup, err := hungUp(m)
		if err != nil {
			return fmt.Errorf("recsim: polling pty: %w", err)
		}
		if !hup {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// flush runs at link end so the next link does not start with the last
// one's leftovers: the dock's requests the device never read are drained
// while the slave is still closed (all of them are old), then what the
// device wrote and the dock never read is flushed from the slave side.
func (p *ptyPort) flush(m *os.File) {
	buf := make([]byte, 32<<10)
	rc, err := m.SyscallConn()
	if err != nil {
		return
	}
	for {
		hup, err := hungUp(m)
		if err != nil || !hup {
			break // a new link has started: its bytes are not ours to drop
		}
		var n int
		_ = rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
		if n <= 0 {
			break
		}
		var rerr error
		_ = rc.Read(func(fd uintptr) bool {
			_, rerr = unix.Read(int(fd), buf[:min(n, len(buf))])
			return true
		})
		if rerr != nil {
			break
		}
	}
	p.mu.Lock()
	dev := p.dev
	p.mu.Unlock()
	s, err := os.OpenFile(dev, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return // unplugged meanwhile: nothing to flush
	}
	_ = unix.IoctlSetInt(int(s.Fd()), unix.TCFLSH, unix.TCIFLUSH) // best effort: stale bytes only cost the dock a BAD_FRAME
	_ = s.Close()
}

// servePTY serves rec on p: one session per open of the slave, until ctx
// ends. An injected disconnect unplugs the pty and plugs a new one at the
// same path ReplugDelay later; an empty battery unplugs it for good.
func (s *Server) servePTY(ctx context.Context, p *ptyPort, rec *Recorder) error {
	log := s.log.With("recorder", rec.Serial(), "pty", p.path)
	for {
		m := p.current()
		if m == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(s.o.ReplugDelay):
			}
			if rec.PoweredOff() {
				continue // stays unplugged
			}
			if err := p.plug(); err != nil {
				return err
			}
			log.Info("recsim: pty replugged")
			continue
		}
		if err := waitOpen(ctx, m); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		// A leading delimiter (§3.6: an empty block is padding) ends
		// whatever partial frame the dock's reader holds from before.
		if _, err := m.Write([]byte{0}); err != nil {
			log.Debug("recsim: pty delimiter", "err", err)
		}
		err := serveWatched(ctx, m, func() error { return rec.serveLink(ctx, m, p.unplug) })
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, ErrDisconnected), errors.Is(err, ErrPoweredOff), errors.Is(err, ErrPowerCut), errors.Is(err, device.ErrRebooted):
			log.Info("recsim: pty unplugged", "cause", err)
			if err := p.unplug(); err != nil {
				log.Debug("recsim: unplug", "err", err)
			}
		case err == nil, errors.Is(err, syscall.EIO), errors.Is(err, os.ErrDeadlineExceeded):
			p.flush(m) // the dock closed the port: link end
		default:
			log.Info("recsim: pty session ended", "err", err)
			p.flush(m)
		}
	}
}

// serveWatched runs serve while watching for the dock's close of the
// slave. A master write blocked on a full pty does not fail when the slave
// closes (Linux lets it carry on into whoever opens the slave next), so a
// hang-up seen by polling sets a past deadline on the master, which ends
// the blocked write or read and with it the session.
func serveWatched(ctx context.Context, m *os.File, serve func() error) error {
	_ = m.SetDeadline(time.Time{}) // clear the last session's interrupt
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if hup, err := hungUp(m); err != nil || hup {
				_ = m.SetDeadline(time.Unix(1, 0)) // closed master: serve ends anyway
				return
			}
		}
	}()
	err := serve()
	close(stop)
	<-done
	return err
}
