package ingest

import "github.com/berthdock/berth/cloud/wire"

// Firmware campaign progress (DockLink §17) on berth/v1/docks/{dock}/firmware,
// registered beside the other dock topic kinds of decode.go.
func init() { topicTypes[wire.KindFirmware] = wire.TypeFirmware }
