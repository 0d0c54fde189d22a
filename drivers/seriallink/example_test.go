package seriallink_test

import (
	"context"
	"errors"
	"log"

	"github.com/berthdock/berth/drivers/seriallink"
)

// A session reads until the recorder is pulled out, then waits for it to
// come back on the same USB port and starts a new session.
func Example() {
	ctx := context.Background()
	const port = "/dev/serial/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.1:1.0"
	link, err := seriallink.Open(port, &seriallink.DefaultOpts)
	if err != nil {
		log.Fatal(err) // wraps seriallink.ErrUnplugged when nothing is docked
	}
	defer link.Close()
	buf := make([]byte, 4096)
	for {
		_, err := link.Read(buf) // hand link (an io.ReadWriteCloser) to the protocol client instead
		if errors.Is(err, seriallink.ErrUnplugged) {
			if err := link.Reconnect(ctx); err != nil {
				return
			}
			continue // new session
		}
		if err != nil {
			return
		}
	}
}
