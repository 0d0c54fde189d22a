// Package recsim simulates body-worn recorders speaking DockLink v1
// (firmware-protocol/PROTOCOL.md), so the dock agent, the demo and the
// conformance suite run without hardware.
//
// A Recorder is a device.Backend whose footage comes from a directory
// (footage files plus manifest.json, see Load and the fixtures/ folder)
// or is generated from a seed (Generate). It adds what a real recorder
// brings to a dock: a battery that may be dying, storage with health and
// error counters, a drifting clock, a USB 2.0 link speed cap on what it
// sends, and injected faults (a link cut at byte N, a corrupted frame, a
// wrong recorded hash, a hole in the sequence numbers, a failing device
// key). Released segments are dropped from the held list in memory and,
// with Config.StateDir, in a state file; the source footage is never
// touched.
//
// A Server serves several recorders, each on its own TCP listener or
// pseudo-terminal (whose slave path a dock opens with drivers/seriallink,
// exercising the real serial code path). A link that drops can be served
// again: the next connection or open is a new session on the same state.
//
// devicetest.Recorder is the small in-memory recorder for unit tests;
// recsim is the file- or seed-backed, fault-injecting, speed-capped one.
package recsim
