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
	m, s, err := pty.Open()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoPTY, err)
	}
	dev := s.Name()
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

// flush drops what either side wrote and the other did not read, so the
// next link does not start with the last one's leftovers.
func flush(m *os.File) {
	rc, err := m.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.IoctlSetInt(int(fd), unix.TCFLSH, unix.TCIOFLUSH) // best effort: stale bytes only cost a BAD_FRAME
	})
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
		err := rec.serveLink(ctx, m, p.unplug)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, ErrDisconnected), errors.Is(err, ErrPoweredOff):
			log.Info("recsim: pty unplugged", "cause", err)
			if err := p.unplug(); err != nil {
				log.Debug("recsim: unplug", "err", err)
			}
		case err == nil, errors.Is(err, syscall.EIO):
			flush(m) // the dock closed the port: link end
		default:
			log.Info("recsim: pty session ended", "err", err)
			flush(m)
		}
	}
}
