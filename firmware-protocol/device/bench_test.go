package device_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/device/devicetest"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// BenchmarkSegmentRead reads a 64 MiB segment from the reference device
// through the full client over net.Pipe, verifying SHA-256 on the fly
// (issue 2 target: >= 400 MB/s).
func BenchmarkSegmentRead(b *testing.B) {
	const size = 64 << 20
	rec := devicetest.New("BENCH-1", 1, nil)
	seg := rec.AddRandom(1, size, 7, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))[0]
	ctx := context.Background()
	c, stop := dial(b, rec, nil, nil)
	defer stop()
	if _, err := c.Hello(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, docklink.Keys{"BENCH-1": rec.PublicKey()}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n, err := c.CopySegment(ctx, seg, 0, nil, io.Discard)
		if err != nil || n != size {
			b.Fatalf("copy: %d bytes, %v", n, err)
		}
	}
}

// dial serves rec over a net.Pipe and returns a client on the other end;
// stop closes the client and joins the device.
func dial(tb testing.TB, rec device.Backend, dopts *device.Opts, copts *docklink.ClientOpts) (*docklink.Client, func()) {
	tb.Helper()
	dockEnd, devEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- device.Serve(ctx, devEnd, rec, dopts) }()
	c := docklink.NewClient(dockEnd, copts)
	return c, func() {
		c.Close()
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
		devEnd.Close()
	}
}
