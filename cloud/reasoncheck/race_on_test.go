//go:build race

package reasoncheck

// raceEnabled: the race detector slows the detector's DSP loops about
// fifteenfold; the gain sweep (TestCalibrateMicGain, nine passes over the
// development sets) then takes minutes, so it runs without -race (.ci/run
// runs it so).
const raceEnabled = true
