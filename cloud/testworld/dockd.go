package testworld

import (
	"fmt"
	"strings"
)

// SimBoardYAML is a simulated board file for a dockd run as a subprocess:
// one slot per recorder, each holding its recorder from the start (the
// fake presence pins are pulled up, read High, and active high makes High
// "present", as a dock finds its slots after a reboot; a subprocess cannot
// be sent Sim().Insert), its serial link reaching the recorder over TCP.
func (w *World) SimBoardYAML() string {
	var b strings.Builder
	b.WriteString("board: testworld-sim\nkind: sim\nleds:\n  type: gpio\nslots:\n")
	for i := range w.Recs.Recorders() {
		n := string(rune('A' + i))
		fmt.Fprintf(&b, `  - name: %s
    charge: {pin: SIM_CHG_%s}
    presence: {pin: SIM_PRS_%s, active: high, pull: up}
    led: {pins: [SIM_LED_%s_R, SIM_LED_%s_G, SIM_LED_%s_B]}
    current: {address: 0x%02x, limit: 2.5A}
    serial: {tcp: %q}
`, n, n, n, n, n, n, 0x40+i, w.Recs.Addr(i))
	}
	return b.String()
}

// DockdYAML is dockd's configuration file for the world's dock (DockCfg:
// the files Start wrote, the collector, the capacity and periods), on the
// board file board, with its local API on sock and an upload cap of rate
// bytes/s (0: none).
func (w *World) DockdYAML(board, sock string, rate int64) string {
	dc := w.DockCfg
	return fmt.Sprintf(`dock: %s
unit: %s
board: %s
data_dir: %s
buffer_key_file: %s
buffer_capacity: %d
enrolled_devices: %s
collector:
  url: %s
  public_key: %s
  token_file: %s
  rate: %d
mqtt:
  broker: %s
  ack_timeout: %s
api_socket: %s
state_every: %s
`, dc.Dock, dc.Unit, board, dc.DataDir, dc.BufferKeyFile, int64(dc.BufferCapacity), dc.EnrolledDevices,
		dc.Collector.URL, dc.Collector.PublicKey, dc.Collector.TokenFile, rate,
		dc.MQTT.Broker, dc.MQTT.AckTimeout, sock, dc.StateEvery)
}
