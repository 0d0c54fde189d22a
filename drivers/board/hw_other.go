//go:build !linux

package board

// openHost fails: periph's host drivers (GPIO character device, I2C and
// SPI device files) exist only on Linux. Use kind: sim elsewhere.
func openHost() (hardware, error) {
	return nil, ErrUnsupported
}
