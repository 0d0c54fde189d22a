package chargesense_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/berthdock/berth/drivers/chargesense"
)

func Example() {
	// On a dock the bus comes from i2creg.Open("") after host.Init(). Here
	// a playback of an INA219 at 0x40 behind the default 0.1 Ω shunt.
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x40, W: []byte{0x00}, R: []byte{0x39, 0x9f}}, // probe
		{Addr: 0x40, W: []byte{0x05, 0x10, 0x62}},            // calibration
		{Addr: 0x40, W: []byte{0x00, 0x1f, 0xff}},            // configuration
		{Addr: 0x40, W: []byte{0x01}, R: []byte{0x0b, 0xb8}}, // shunt 30 mV
		{Addr: 0x40, W: []byte{0x02}, R: []byte{0x27, 0x12}}, // bus 5 V
		{Addr: 0x40, W: []byte{0x04}, R: []byte{0x3c, 0x00}}, // current
		{Addr: 0x40, W: []byte{0x03}, R: []byte{0x05, 0xdc}}, // power
	}}
	d, err := chargesense.New(bus, &chargesense.DefaultOpts)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Halt()
	r, err := d.Sense()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d)
	fmt.Println(r, "cut off:", r.OverCurrent)
	if err := bus.Close(); err != nil { // every expected transfer happened
		log.Fatal(err)
	}
	// Output:
	// ina219{playback 0x40}
	// 5V, 1.500A cut off: false
}
