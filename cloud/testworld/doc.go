// Package testworld is the one test world of berth's end-to-end tests:
// the checks every such test makes of a world of a collector, recorders
// and a dock, judged against truth taken independently of the dock.
//
// Capture reads each recorder's original bytes before docking; Check
// compares the evidence store, the collector's receipts and the
// recorders' own release logs with them, and counts what was lost,
// altered, stored twice, badly receipted, or released without or before
// its receipt. Settled is the one predicate of a dock that has finished.
//
// It is a test helper, imported only by tests (and the demo); it lives on
// the cloud side because it reads the collector's store, which agent/
// packages must not import.
package testworld
