package slot

import (
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// stopCause maps a recorder's stop-cause code (DockLink §9.3, the recorder
// protocol's own vocabulary) to the contract's word for it (package wire,
// what the collector and its rules read). The two protocols are separate
// contracts with separate owners, so neither imports the other; the dock,
// which speaks both, is the one place that translates. A code this dock
// does not know (a newer firmware) is reported as unknown, which the rules
// treat as abnormal, rather than as a word the collector would reject.
func stopCause(c docklink.StopCause) string {
	switch c {
	case docklink.StopAutoSplit:
		return wire.StopAutoSplit
	case docklink.StopUser:
		return wire.StopUser
	case docklink.StopLowBattery:
		return wire.StopLowBattery
	case docklink.StopStorageFull:
		return wire.StopStorageFull
	case docklink.StopFault:
		return wire.StopFault
	case docklink.StopPowerLoss:
		return wire.StopPowerLoss
	}
	return wire.StopUnknown
}
