package slot

import (
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/led"
)

// Pattern is what the officer and the custodian see for each state. The
// officer needs three answers at a glance: "working on it" (blue), "safe:
// the agency has the footage, take it or leave it" (green), "something is
// wrong: tell the custodian" (red or red/amber).
func Pattern(state, fault string) led.Pattern {
	switch state {
	case wire.SlotEmpty:
		return led.Off()
	case wire.SlotPresent, wire.SlotIdentified, wire.SlotInventoried:
		return led.Blink(led.Blue, 500*time.Millisecond)
	case wire.SlotCopying, wire.SlotBuffered:
		return led.Pulse(led.Blue, 1500*time.Millisecond)
	case wire.SlotUploaded, wire.SlotReleased:
		return led.Pulse(led.Green, 2*time.Second)
	case wire.SlotReady:
		return led.Solid(led.Green)
	case wire.SlotFault:
		switch fault {
		case FaultBufferFull, FaultOffline:
			// Footage is safe on the recorder; this dock cannot take it now.
			return led.Alternate(led.Red, led.Amber, time.Second)
		case FaultAuth:
			return led.Solid(led.Red)
		}
		return led.Blink(led.Red, 500*time.Millisecond)
	}
	return led.Blink(led.Amber, 250*time.Millisecond)
}

// Fault reasons in wire.SlotState.Fault.
const (
	FaultLink          = wire.SlotFaultLink        // the recorder does not answer DockLink
	FaultAuth          = "auth"                    // unknown recorder or failed authentication: refused
	FaultHashMismatch  = "hash-mismatch"           // a copied segment does not match the recorder's hash
	FaultSequenceHole  = "sequence-hole"           // the recorder's sequence numbers have a hole: nothing released
	FaultBufferFull    = "buffer-full"             // the dock's buffer is full: footage stays on the recorder
	FaultBuffer        = "buffer"                  // the buffer failed
	FaultOverCurrent   = wire.SlotFaultOverCurrent // charge cut
	FaultOverTemp      = wire.SlotFaultOverTemp    // charge cut
	FaultNotCharging   = wire.SlotFaultNotCharging // battery does not take charge
	FaultReleaseRefuse = "release-refused"         // the recorder refused a release
	FaultOffline       = "receipt-timeout"         // no receipt yet: footage stays on the recorder
)
