package device_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"

	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/device/devicetest"
)

// Serving a recorder over TCP, one session per connection, as recsim does.
// Any device.Backend works; devicetest.Recorder is the in-memory one.
func ExampleServe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := devicetest.New("BWC-0001", 1, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	stats := new(device.Stats)
	opts := &device.Opts{Logger: slog.Default(), Stats: stats}
	var wg sync.WaitGroup
	defer wg.Wait() // every session joined before we return
	context.AfterFunc(ctx, func() { ln.Close() })
	go func() { cancel() }() // (stop at once in this example)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				slog.Error("accept", "err", err)
			}
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			if err := device.Serve(ctx, conn, rec, opts); err != nil {
				slog.Warn("session ended", "err", err)
			}
		}()
	}
}
