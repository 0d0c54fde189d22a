package presence_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/berthdock/berth/drivers/presence"
)

func Example() {
	// On a dock the pin comes from gpioreg.ByName("GPIO16") after host.Init().
	pin := &gpiotest.Pin{N: "GPIO16", EdgesChan: make(chan gpio.Level, 8)}
	d, err := presence.New(pin, &presence.DefaultOpts) // present when Low, pull-up
	if err != nil {
		log.Fatal(err)
	}
	defer d.Halt()
	fmt.Println(<-d.Events())

	// A recorder slides in; the contact bounces before it settles closed.
	for _, l := range []gpio.Level{gpio.Low, gpio.High, gpio.Low} {
		pin.EdgesChan <- l
	}
	fmt.Println(<-d.Events())
	// Output:
	// initially empty
	// inserted
}
