//go:build !windows

package seriallink

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/jonboulle/clockwork"
)

// recorder is a simulated recorder port: a pty whose slave is reached
// through a by-path style symlink, as udev provides.
type recorder struct {
	master *os.File
	link   string
}

func plug(t *testing.T, link string) *recorder {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_PTY") != "" {
			t.Fatalf("pseudo-terminals are required (BERTH_REQUIRE_PTY is set): %v", err)
		}
		t.Skipf("no pseudo-terminals here (set BERTH_REQUIRE_PTY to require them): %v", err)
	}
	name := s.Name()
	_ = s.Close() // the Dev opens its own descriptor
	_ = os.Remove(link)
	if err := os.Symlink(name, link); err != nil {
		t.Fatal(err)
	}
	r := &recorder{master: m, link: link}
	t.Cleanup(func() { _ = m.Close() })
	return r
}

// unplug removes the recorder the way a USB unplug does: the device goes
// away and udev removes the by-path link.
func (r *recorder) unplug(t *testing.T) {
	t.Helper()
	if err := r.master.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(r.link); err != nil {
		t.Fatal(err)
	}
}

func linkPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "platform-fd500000.pcie-usb-0:1.2:1.0")
}

func open(t *testing.T, path string, o *Opts) *Dev {
	t.Helper()
	d, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestOpenMissingPath(t *testing.T) {
	_, err := New(filepath.Join(t.TempDir(), "no-such-port"), nil)
	if !errors.Is(err, ErrUnplugged) {
		t.Fatalf("New = %v, want ErrUnplugged", err)
	}
}

func TestOpenNotATerminal(t *testing.T) {
	f := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f, nil); !errors.Is(err, ErrPort) {
		t.Fatalf("Open(plain file) = %v, want ErrPort", err)
	}
}

func TestReadWrite(t *testing.T) {
	link := linkPath(t)
	rec := plug(t, link)
	d := open(t, link, nil)
	if d.Target() == link || d.Target() == "" {
		t.Fatalf("Target() = %q, want the pty behind the link", d.Target())
	}
	if _, err := d.Write([]byte("HELLO\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(rec.master, buf); err != nil || string(buf) != "HELLO\n" {
		t.Fatalf("recorder got %q, %v", buf, err)
	}
	if _, err := rec.master.Write([]byte("WORLD\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(d, buf); err != nil || string(buf) != "WORLD\n" {
		t.Fatalf("dock got %q, %v", buf, err)
	}
}

func TestReadTimeout(t *testing.T) {
	link := linkPath(t)
	plug(t, link)
	d := open(t, link, &Opts{ReadTimeout: 20 * time.Millisecond})
	_, err := d.Read(make([]byte, 8))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v, want ErrTimeout", err)
	}
}

func TestCloseInterruptsRead(t *testing.T) {
	link := linkPath(t)
	plug(t, link)
	d := open(t, link, nil)
	done := make(chan error, 1)
	go func() {
		_, err := d.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let Read block
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt Read")
	}
	if _, err := d.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
}

// The recorder is pulled out during a read, then docked again: the read
// fails with ErrUnplugged, I/O keeps failing until Reconnect, which backs
// off while the port is absent and resumes when it comes back.
func TestUnplugAndReplug(t *testing.T) {
	fc := clockwork.NewFakeClock()
	link := linkPath(t)
	rec := plug(t, link)
	d := open(t, link, &Opts{Clock: fc, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})

	done := make(chan error, 1)
	go func() {
		_, err := d.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	rec.unplug(t)
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnplugged) {
			t.Fatalf("Read during unplug = %v, want ErrUnplugged", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not notice the unplug")
	}
	if !d.Unplugged() {
		t.Fatal("Unplugged() = false")
	}
	if _, err := d.Write([]byte("x")); !errors.Is(err, ErrUnplugged) {
		t.Fatalf("Write while unplugged = %v, want ErrUnplugged", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reconnected := make(chan error, 1)
	go func() { reconnected <- d.Reconnect(ctx) }()
	// Two failed attempts while the port is away.
	for range 2 {
		if err := fc.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		fc.Advance(time.Second)
	}
	if err := fc.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	rec = plug(t, link) // docked again: a new tty behind the same path
	fc.Advance(time.Second)
	if err := <-reconnected; err != nil {
		t.Fatalf("Reconnect = %v", err)
	}
	if d.Unplugged() {
		t.Fatal("still unplugged after Reconnect")
	}
	if _, err := rec.master.Write([]byte("AGAIN\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(d, buf); err != nil || string(buf) != "AGAIN\n" {
		t.Fatalf("after replug got %q, %v", buf, err)
	}
}

func TestReconnectGivesUpWithContext(t *testing.T) {
	fc := clockwork.NewFakeClock()
	link := linkPath(t)
	rec := plug(t, link)
	d := open(t, link, &Opts{Clock: fc})
	rec.unplug(t)
	if _, err := d.Write([]byte("x")); err == nil {
		// A pty may accept one write into its buffer; the read must fail.
		if _, err := d.Read(make([]byte, 1)); !errors.Is(err, ErrUnplugged) {
			t.Fatalf("Read after unplug = %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Reconnect(ctx) }()
	if err := fc.BlockUntilContext(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Reconnect = %v, want context.Canceled", err)
	}
}
