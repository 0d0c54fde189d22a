// Package wire is the contract between a dock and the collector: the MQTT
// topics of berth v1, the versioned JSON envelope every report travels in, the
// bodies of each message type, the hash chain of the dock's audit log, and the
// evidence receipt the collector signs.
//
// Both sides import this package, so a change here is a protocol change: add
// fields, never repurpose them, and bump SchemaVersion for anything a v1 peer
// would misread. The JSON Schemas under schema/ describe the same shapes for
// readers outside Go.
package wire
