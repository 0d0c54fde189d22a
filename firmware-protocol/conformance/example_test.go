package conformance_test

import (
	"context"
	"io"
	"net"
	"os"
	"time"

	"github.com/berthdock/berth/firmware-protocol/conformance"
)

// Run the suite against a device reachable over TCP (recsim, or a recorder
// behind a serial-to-TCP bridge) and print the table. A serial port works
// the same way: dial opens the port (drivers/seriallink).
func ExampleRun() {
	dial := func(ctx context.Context) (io.ReadWriteCloser, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", "127.0.0.1:7000")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep := conformance.Run(ctx, dial, &conformance.Opts{Release: false})
	rep.WriteTable(os.Stdout)
	if !rep.Passed() {
		os.Exit(1)
	}
}
