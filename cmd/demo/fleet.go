package main

import (
	"time"

	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// take is one recording: a fixture clip, how long after the previous one
// ended it starts, and why it stopped (testworld.Take).
type take struct {
	clip  int
	after time.Duration
	stop  string
}

// officerPlan is one recorder of the demo's shift and what it shows.
type officerPlan struct {
	testworld.Plan
	shows    string // what this recorder demonstrates
	enrolled bool
}

// The fixture clips: 1 opening announcement, 2 noise, 3 noise, 4 spoken
// reason at the start, 5 noise, 6 noise only (no reason).
func demoPlans(now time.Time) []officerPlan {
	worn := recsim.DefaultBattery
	worn.HealthPercent, worn.Cycles = 71, 913
	tag := "A-" + now.Format("20060102") + "-031"
	plan := func(serial, officer, firmware string, ago time.Duration, takes []take, cfg recsim.Config) testworld.Plan {
		p := testworld.Plan{Serial: serial, Officer: officer, Firmware: firmware, CaseTag: tag, Ago: ago, Config: cfg}
		for _, t := range takes {
			p.Takes = append(p.Takes, testworld.Take{Clip: t.clip, After: t.after, Stop: t.stop})
		}
		return p
	}
	return []officerPlan{
		{enrolled: true, shows: "auto split; low battery then resumed WITH the spoken reason; fault then resumed WITHOUT it",
			Plan: plan("BWC-0101", "010234", "2.4.1", 3*time.Hour,
				[]take{{1, 0, "auto-split"}, {2, 0, "low-battery"}, {4, 90 * time.Second, "fault"}, {6, 40 * time.Second, "user"}}, recsim.Config{})},
		{enrolled: true, shows: "a recorder lying about one segment's hash (never released); worn battery (71 % health)",
			Plan: plan("BWC-0102", "010311", "2.4.1", 4*time.Hour,
				[]take{{1, 0, "auto-split"}, {2, 0, "user"}, {5, 25 * time.Minute, "user"}},
				recsim.Config{Battery: worn, Faults: []recsim.Fault{{Kind: recsim.FaultWrongHash, N: 2}}})},
		{enrolled: true, shows: "a missing sequence number (lost footage: nothing released); clock 95 s fast; pulled mid-copy once",
			Plan: plan("BWC-0103", "010422", "2.4.1", 2*time.Hour,
				[]take{{1, 0, "user"}, {3, 20 * time.Minute, "user"}, {5, 15 * time.Minute, "user"}, {2, 10 * time.Minute, "user"}},
				recsim.Config{ClockOffset: 95 * time.Second, Faults: []recsim.Fault{{Kind: recsim.FaultMissingSeq, N: 3},
					{Kind: recsim.FaultDisconnect, N: 150_000}}})},
		{enrolled: true, shows: "out 30 h (late upload); stopped by a fault and never resumed; old firmware",
			Plan: plan("BWC-0104", "010507", "2.2.0", 30*time.Hour, []take{{1, 0, "user"}, {3, time.Hour, "fault"}}, recsim.Config{})},
		{enrolled: false, shows: "a recorder this dock does not know: refused, its footage left alone",
			Plan: plan("BWC-0999", "019999", "2.4.1", time.Hour, []take{{1, 0, "user"}}, recsim.Config{})},
	}
}
