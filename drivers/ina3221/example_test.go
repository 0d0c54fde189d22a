package ina3221_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/berthdock/berth/drivers/ina3221"
)

func Example() {
	// On a dock the bus comes from i2creg.Open("") after host.Init(). Here
	// a playback of an INA3221 at 0x40 whose channel 1 has a 1.2 A
	// hardware limit.
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x40, W: []byte{0xFE}, R: []byte{0x54, 0x49}}, // manufacturer "TI"
		{Addr: 0x40, W: []byte{0xFF}, R: []byte{0x32, 0x20}}, // die INA3221
		{Addr: 0x40, W: []byte{0x00, 0x71, 0x27}},            // configuration
		{Addr: 0x40, W: []byte{0x07, 0x5d, 0xc0}},            // channel 1 critical: 120 mV
		{Addr: 0x40, W: []byte{0x01}, R: []byte{0x42, 0x68}}, // shunt 85 mV
		{Addr: 0x40, W: []byte{0x02}, R: []byte{0x13, 0x88}}, // bus 5 V
		{Addr: 0x40, W: []byte{0x0F}, R: []byte{0x00, 0x02}}, // no critical flag
	}}
	o := ina3221.DefaultOpts
	o.Limits[0] = 1200 * physic.MilliAmpere
	d, err := ina3221.New(bus, &o)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Halt()
	r, err := d.Sense(1)
	if err != nil {
		log.Fatal(err)
	}
	tripped, err := d.Critical(1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d)
	fmt.Println(r, "tripped:", tripped)
	if err := bus.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// ina3221{playback 0x40}
	// 5V, 850mA tripped: false
}
