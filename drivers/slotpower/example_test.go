package slotpower_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/berthdock/berth/drivers/slotpower"
)

func Example() {
	// On a dock the pin comes from gpioreg.ByName("GPIO5") after host.Init().
	pin := &gpiotest.Pin{N: "GPIO5"}
	d, err := slotpower.New(pin, &slotpower.DefaultOpts)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Halt()
	if err := d.Set(true); err != nil {
		log.Fatal(err)
	}
	fmt.Println(d, "on:", d.On())
	// Output: slotpower{GPIO5(0)} on: true
}
