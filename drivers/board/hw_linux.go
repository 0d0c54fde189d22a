//go:build linux

package board

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"
	"periph.io/x/host/v3/gpioioctl"
)

// hostHW is the real board through periph's host drivers.
type hostHW struct {
	mu    sync.Mutex
	buses map[string]i2c.BusCloser
	ports map[string]spi.PortCloser
}

func openHost() (hardware, error) {
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("%w: periph host.Init: %w", ErrHardware, err)
	}
	return &hostHW{buses: map[string]i2c.BusCloser{}, ports: map[string]spi.PortCloser{}}, nil
}

// pin prefers the GPIO character device's line (gpioioctl; the only
// driver on the Pi 5 and the supported one on current Pi OS), then any
// driver periph registered under that name.
func (h *hostHW) pin(name string) (gpio.PinIO, error) {
	for _, c := range gpioioctl.Chips {
		if l := c.ByName(name); l != nil {
			return l, nil
		}
	}
	if p := gpioreg.ByName(name); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("unknown pin %q: no GPIO line has that name (see gpioinfo)", name)
}

func (h *hostHW) i2c(name string) (i2c.Bus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.buses[name]; ok {
		return b, nil
	}
	b, err := i2creg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("opening I2C bus %q: %w", name, err)
	}
	h.buses[name] = b
	return b, nil
}

func (h *hostHW) spi(name string) (spi.Port, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.ports[name]; ok {
		return p, nil
	}
	p, err := spireg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("opening SPI port %q: %w", name, err)
	}
	h.ports[name] = p
	return p, nil
}

func (h *hostHW) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, b := range h.buses {
		errs = append(errs, b.Close())
	}
	for _, p := range h.ports {
		errs = append(errs, p.Close())
	}
	clear(h.buses)
	clear(h.ports)
	return errors.Join(errs...)
}
