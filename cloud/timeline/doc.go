// Package timeline rebuilds a recorder's recording timeline from the segments
// its docks reported and finds what the recording rules care about: where a
// recording was interrupted and resumed (the officer must state the reason
// aloud at the restart), where it stopped abnormally and never resumed (a
// written explanation is due), holes in the per-device sequence (lost or
// deleted footage), overlapping segments (a clock or integrity problem), hash
// mismatches and footage that reached storage more than 24 hours after it
// was recorded.
//
// Times are drift-corrected first. At every docking the dock reads the
// device clock against its own NTP-disciplined clock (offset = device - dock)
// and then sets it. A recorder's clock drifts roughly linearly between two
// dockings, so a segment recorded at device time t between the sync at T0
// (offset o0 after it, 0 when the dock set the clock) and the docking at T1
// that copied it (measured offset o1) is corrected by the offset interpolated
// between (T0, o0) and (T1, o1). See Correct.
//
// The package is pure: slices in, findings out, no I/O, so it can be run on a
// day of one recorder or on millions of segments in a benchmark.
package timeline
