// Package board reads board files and opens a dock's hardware from them.
//
// A board file (YAML) maps each slot to its charge-enable pin, presence pin,
// LED, optional current sensor and the stable path of its recorder's serial
// port, so an installer maps a new board without recompiling. Parse and Load
// validate it and report every mistake as one line naming the file line and
// the field:
//
//	board.yaml:14: slots[2].presence.pin: pin GPIO17 already used by slots[0].charge.pin
//
// Open turns a Spec into a Board of ready drivers (slotpower, presence, led,
// chargesense or ina3221, seriallink). Kinds "rpi4" and "rpi5" use the real hardware
// through periph.io (Linux only: host.Init, the GPIO character device, I2C
// and SPI); kind "sim" builds the same Board from periph's fakes, with a Sim
// handle to insert and remove recorders, set charge currents and point
// links at recsim's TCP addresses, so the agent and the demo run anywhere.
package board

import (
	"time"

	"periph.io/x/conn/v3/physic"
)

// Kinds of boards.
const (
	KindRPi4 = "rpi4"
	KindRPi5 = "rpi5"
	KindSim  = "sim"
)

// LED backends.
const (
	LEDGPIO   = "gpio"   // discrete LEDs: one pin or red/green/blue pins per slot
	LEDAPA102 = "apa102" // APA102 strip on SPI, one pixel per slot
	LEDWS2812 = "ws2812" // WS2812 strip on SPI (periph nrzled), one pixel per slot
)

// Spec is a validated board file.
type Spec struct {
	File  string // where it was read from, for messages
	Name  string
	Kind  string
	LEDs  LEDSpec
	Slots []SlotSpec
	Sim   SimSpec
	// CardReader is the dock's optional officer card reader (nil: none).
	CardReader *CardReaderSpec
}

// CardReaderSpec is an MFRC522 card reader on SPI with its reset and
// interrupt lines (drivers/cardreader).
type CardReaderSpec struct {
	SPI   string // periph SPI port name, e.g. "/dev/spidev0.1" or "SPI0.1"
	Reset Pin
	IRQ   Pin
	Gain  int // antenna gain 0..7; 4 when not given
	Line  int
}

// LEDSpec is the board's LED backend.
type LEDSpec struct {
	Type      string // LEDGPIO, LEDAPA102 or LEDWS2812
	ActiveLow bool   // gpio: LEDs lit by a Low level
	SPI       string // strips: periph SPI port name, e.g. "/dev/spidev0.0" or "SPI0.0"
	Pixels    int    // strips: number of pixels on the strip
	Line      int
}

// SlotSpec is one slot of the board.
type SlotSpec struct {
	Name     string
	Charge   ChargeSpec
	Presence PresenceSpec
	LED      SlotLEDSpec
	Current  *CurrentSpec // nil: no sensor on this slot
	Serial   SerialSpec
	// Storage, instead of Serial, makes the slot one for legacy recorders
	// that present as USB mass storage (agent/massstore).
	Storage *StorageSpec
	Line    int
}

// ChargeSpec is a slot's charge-enable output.
type ChargeSpec struct {
	Pin       Pin
	ActiveLow bool
	Settle    time.Duration // power-cycle off time; 0 means slotpower's default
}

// PresenceSpec is a slot's presence input.
type PresenceSpec struct {
	Pin        Pin
	ActiveHigh bool   // false: present when Low (switch to ground)
	Pull       string // "up", "down", "none" (leave as is)
	Settle     time.Duration
}

// SlotLEDSpec is a slot's place on the LED backend.
type SlotLEDSpec struct {
	Pins  []Pin // gpio: 1 pin, or red, green, blue
	Pixel int   // strips: pixel index
	Line  int
}

// Current sensor types.
const (
	SensorINA219  = "ina219"  // one INA219 per slot (periph's driver)
	SensorINA3221 = "ina3221" // one INA3221 channel per slot, three slots per chip
)

// CurrentSpec is a slot's current sensor.
type CurrentSpec struct {
	Type    string // SensorINA219 or SensorINA3221
	Bus     string // periph I2C bus name ("" is the first bus, "/dev/i2c-1" or "I2C1")
	Address uint16
	Channel int // ina3221: 1 to 3
	Shunt   physic.ElectricResistance
	Max     physic.ElectricCurrent // ina219: calibration full scale
	Limit   physic.ElectricCurrent // over-current threshold (ina3221: also its CRITICAL pin)
	Line    int
}

// SerialSpec is where a slot's recorder link is: a device path (udev
// by-path link, tty or pty) or, on the simulated board, a TCP address.
type SerialSpec struct {
	Path string
	TCP  string
	Line int
}

// StorageSpec is where a mass-storage recorder's volume appears: the udev
// by-path link of the slot's USB port's block device (its partition), and
// the file system types to try (empty: vfat, exfat, ext4).
type StorageSpec struct {
	Path    string
	FSTypes []string
	Line    int
}

// SimSpec holds simulation-only knobs.
type SimSpec struct {
	// MissingI2C lists sensor addresses that do not answer, to rehearse a
	// missing or dead sensor.
	MissingI2C []uint16
}

// Pin is a pin name with the file line it was written on.
type Pin struct {
	Name string
	Line int
}

func (p Pin) String() string { return p.Name }
