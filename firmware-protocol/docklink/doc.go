// Package docklink implements DockLink v1, the protocol between a dock and a
// body-worn recorder, as specified in firmware-protocol/PROTOCOL.md.
//
// It provides three layers, each citing the spec section it implements:
//
//   - the frame codec (Framer): COBS framing with a 0x00 delimiter, a 12-byte
//     header, CRC-32C per frame and a hard maximum frame size checked before
//     any allocation (§3);
//   - the message codecs: one Go struct per message, each with one encoder
//     (AppendPayload) and one decoder (DecodePayload), one file per message
//     family (§5–§12);
//   - the dock-side Client: request ids, responses matched by id, per-request
//     timeouts, pipelined windowed segment reads and resumption at an offset
//     after a broken link (§4, §11).
//
// The recorder side (the reference firmware logic) lives in package
// firmware-protocol/device; the conformance suite in
// firmware-protocol/conformance.
package docklink
