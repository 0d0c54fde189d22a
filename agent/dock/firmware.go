package dock

import "github.com/berthdock/berth/cloud/wire"

// Firmware implements the firmware updater's report (agent/firmware):
// queued for the collector like every report.
func (d *Dock) Firmware(p wire.FirmwareProgress) {
	d.put(d.id("fw"), wire.TypeFirmware, wire.FirmwareTopic(d.set.Dock), false, &p)
}
