//go:build race

package ingest_test

// raceEnabled: the race detector slows this package's MQTT and JSON Schema
// work about tenfold, so the failover test runs at a smaller scale (the
// same code paths) unless BERTH_INGEST_FAILOVER_FULL is set.
const raceEnabled = true
