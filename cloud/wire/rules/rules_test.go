package rules

import (
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

func TestRules(t *testing.T) {
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		cause          string
		gap            time.Duration
		joins, resumes bool
	}{
		{"split within tolerance", wire.StopAutoSplit, time.Second, true, true},
		{"split with small overlap", wire.StopAutoSplit, -500 * time.Millisecond, true, true},
		{"split with large overlap", wire.StopAutoSplit, -5 * time.Second, false, true},
		{"split leaving a gap", wire.StopAutoSplit, time.Minute, false, true},
		{"user restart within window", wire.StopUser, 2 * time.Minute, false, true},
		{"user restart after window", wire.StopUser, time.Hour, false, false},
		{"low battery resumed hours later", wire.StopLowBattery, 3 * time.Hour, false, true},
		{"fault never resumed", wire.StopFault, 5 * time.Hour, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Joins(tt.cause, tt.gap); got != tt.joins {
				t.Errorf("Joins = %v, want %v", got, tt.joins)
			}
			if got := p.Resumes(tt.cause, tt.gap); got != tt.resumes {
				t.Errorf("Resumes = %v, want %v", got, tt.resumes)
			}
		})
	}
	for _, c := range []string{wire.StopLowBattery, wire.StopStorageFull, wire.StopFault, wire.StopPowerLoss, wire.StopUnknown} {
		if !Abnormal(c) {
			t.Errorf("%s not abnormal", c)
		}
	}
	for _, c := range []string{wire.StopAutoSplit, wire.StopUser} {
		if Abnormal(c) {
			t.Errorf("%s abnormal", c)
		}
	}
}
