package board_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/physic"

	"github.com/berthdock/berth/drivers/board"
	"github.com/berthdock/berth/drivers/led"
)

// The dock agent opens the board named in its config and only touches the
// Slot surface: Power, Presence events, SetPattern, Sense and OpenLink. On a
// laptop the same code runs on the simulated board, driven through Sim.
func Example() {
	spec, err := board.Load("../../deploy/boards/sim-4slot.yaml")
	if err != nil {
		log.Fatal(err) // e.g. "board.yaml:14: slots[2].presence.pin: pin GPIO17 already used by slots[0].charge.pin"
	}
	b, err := board.Open(spec, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Halt()

	slot := b.Slots()[0]
	fmt.Println("start:", <-slot.Presence.Events())

	// The demo (or a test) docks a recorder that draws 850 mA once powered.
	sim := b.Sim()
	_ = sim.SetLoad(0, 5*physic.Volt, 850*physic.MilliAmpere)
	_ = sim.Insert(0)

	ev := <-slot.Presence.Events()
	fmt.Println("event:", ev)
	if ev.Present {
		_ = slot.Power.Set(true)
		_ = slot.SetPattern(led.Pulse(led.Green, 0))
	}
	r, err := slot.Sense()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("power:", slot.Power.On(), "current:", r.Current, "over-current:", r.OverCurrent, "pattern:", slot.Pattern())
	fmt.Println("link:", slot.LinkName())
	// Output:
	// start: initially empty
	// event: inserted
	// power: true current: 849.900mA over-current: false pattern: pulse(green,1s)
	// link: tcp:127.0.0.1:7301
}
