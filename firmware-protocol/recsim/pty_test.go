//go:build linux

package recsim_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/drivers/seriallink"
	"github.com/berthdock/berth/firmware-protocol/conformance"
	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

func ptyServer(t *testing.T, recs []*recsim.Recorder) *recsim.Server {
	t.Helper()
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		noPTY(t, err)
	}
	return serve(t, recs, &recsim.ServerOpts{PTY: true, PTYDir: t.TempDir(), ReplugDelay: 50 * time.Millisecond})
}

// noPTY skips a test that needs pseudo-terminals where there are none,
// unless BERTH_REQUIRE_PTY demands them (CI sets it): then it fails.
func noPTY(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("BERTH_REQUIRE_PTY") != "" {
		t.Fatalf("pseudo-terminals are required (BERTH_REQUIRE_PTY is set): %v", err)
	}
	t.Skipf("no pseudo-terminals here (set BERTH_REQUIRE_PTY to require them): %v", err)
}

func serialDialer(path string) conformance.Dialer {
	return conformance.Settled(func(context.Context) (io.ReadWriteCloser, error) { return seriallink.Open(path, nil) },
		conformance.LineSettle)
}

// The conformance suite over the dock's own serial code path.
func TestConformanceOverPTY(t *testing.T) {
	r := load(t, nil)
	srv := ptyServer(t, []*recsim.Recorder{r})
	path := srv.PTYPath(0)
	if target, err := filepath.EvalSymlinks(path); err != nil || filepath.Dir(target) != "/dev/pts" {
		t.Fatalf("pty path %s -> %s (%v)", path, target, err)
	}
	rep := runSuite(t, serialDialer(path), &conformance.Opts{Keys: keysOf(r)})
	if !rep.Passed() {
		t.Fatalf("recsim does not conform over a pty: %+v", rep.Failed())
	}
}

func serialSession(t *testing.T, dev *seriallink.Dev, keys docklink.KeyStore) *docklink.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := docklink.NewClient(dev, &docklink.ClientOpts{RequestTimeout: 3 * time.Second})
	t.Cleanup(func() { c.Close() })
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, keys); err != nil {
		t.Fatal(err)
	}
	return c
}

// An injected disconnect on a pty is a USB unplug: the dock's reads fail
// with seriallink.ErrUnplugged, the path comes back, Reconnect reopens it,
// and the read resumes on the same recorder.
func TestPTYUnplugAndReplug(t *testing.T) {
	const size = 512 << 10
	r, err := recsim.Generate(5, &recsim.GenOpts{Segments: 1, MinSize: size},
		&recsim.Config{Rate: recsim.Unlimited, Faults: []recsim.Fault{{Kind: recsim.FaultDisconnect, N: 200 << 10}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := ptyServer(t, []*recsim.Recorder{r})
	dev, err := seriallink.Open(srv.PTYPath(0), &seriallink.Opts{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	seg := r.Segments()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := sha256.New()
	c1 := serialSession(t, dev, keysOf(r))
	n, err := c1.ReadSegment(ctx, seg, 0, h)
	if err == nil || n >= size {
		t.Fatalf("read %d, %v: want the link cut", n, err)
	}
	if !dev.Unplugged() {
		t.Fatal("seriallink did not see an unplug")
	}
	// (the client owns dev; closing it would close the port)
	dev2, err := reopen(ctx, srv.PTYPath(0))
	if err != nil {
		t.Fatal(err)
	}
	defer dev2.Close()
	c2 := serialSession(t, dev2, keysOf(r))
	defer c2.Close()
	if _, err := c2.CopySegment(ctx, seg, n, h, io.Discard); err != nil {
		t.Fatalf("resume at %d after replug: %v", n, err)
	}
	c1.Close()
}

// reopen waits for the replugged path, as the agent does after an unplug.
func reopen(ctx context.Context, path string) (*seriallink.Dev, error) {
	for {
		d, err := seriallink.Open(path, nil)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, seriallink.ErrUnplugged) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Closing the port mid-read ends the session and the next open is a new
// one that works: its HELLO is answered (the old link's unread DATA is
// flushed and a leading delimiter resynchronises the dock's framer) and a
// full read verifies. Linux lets a master write blocked on a full pty
// carry on into the next opener, so a few of the old link's responses may
// still reach the new link; the client discards them as unmatched or bad
// frames, and the hash check proves nothing was mixed in.
func TestPTYReopenIsANewSession(t *testing.T) {
	r, err := recsim.Generate(6, &recsim.GenOpts{Segments: 1, MinSize: 2 << 20}, &recsim.Config{Rate: recsim.Unlimited})
	if err != nil {
		t.Fatal(err)
	}
	srv := ptyServer(t, []*recsim.Recorder{r})
	seg := r.Segments()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 3 {
		dev, err := seriallink.Open(srv.PTYPath(0), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := serialSession(t, dev, keysOf(r))
		if i < 2 {
			// Request a window of reads and leave without reading them.
			for range 4 {
				go c.Do(ctx, &docklink.Read{Seq: seg.Seq, Length: 256 << 10})
			}
			time.Sleep(20 * time.Millisecond)
			c.Close()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if _, err := c.CopySegment(ctx, seg, 0, nil, io.Discard); err != nil {
			t.Fatalf("full read on the third link: %v", err)
		}
		t.Logf("third link: %+v", c.Stats())
		c.Close()
	}
}
