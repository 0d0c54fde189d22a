package led_test

import (
	"fmt"
	"log"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/berthdock/berth/drivers/led"
)

func Example() {
	// Two slots with red/green/blue LEDs. On a dock the pins come from the
	// board file (gpioioctl lines); a strip would use led.NewStrip over
	// periph's apa102 or nrzled driver instead.
	var pins [][]gpio.PinOut
	var all []*gpiotest.Pin
	for _, slot := range []string{"A", "B"} {
		var rgb []gpio.PinOut
		for _, c := range []string{"R", "G", "B"} {
			p := &gpiotest.Pin{N: slot + c}
			all = append(all, p)
			rgb = append(rgb, p)
		}
		pins = append(pins, rgb)
	}
	out, err := led.NewGPIO(pins, false)
	if err != nil {
		log.Fatal(err)
	}
	clock := clockwork.NewFakeClock() // the dock passes the real clock
	d, err := led.New(out, &led.Opts{Slots: 2, Clock: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Halt()

	// SetPattern writes the first frame before it returns.
	if err := d.SetPattern(0, led.Solid(led.Green)); err != nil {
		log.Fatal(err)
	}
	if err := d.SetPattern(1, led.Blink(led.Red, time.Second)); err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Pattern(0), d.Shown(0))
	fmt.Println(d.Pattern(1), d.Shown(1))
	level := func(p *gpiotest.Pin) gpio.Level { p.Lock(); defer p.Unlock(); return p.L } // never Read() an output
	fmt.Println("slot B red pin:", level(all[3]))
	// Output:
	// solid(green) green
	// blink(red,1s) red
	// slot B red pin: High
}
