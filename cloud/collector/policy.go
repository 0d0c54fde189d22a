package collector

import (
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/analysis"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// PolicyConfig is a recording policy in the collector's config
// (analysis.policy, and per unit under analysis.units); a zero field
// keeps the value it overrides (the rules' defaults, then the collector's
// policy).
type PolicyConfig struct {
	UploadDeadline       time.Duration `yaml:"upload_deadline"`        // rule 1: 24h
	WarnAhead            time.Duration `yaml:"warn_ahead"`             // warn a recorder still out this long before its deadline: 4h
	SplitTolerance       time.Duration `yaml:"split_tolerance"`        // 2s
	RestartWindow        time.Duration `yaml:"restart_window"`         // 10m
	AbnormalResumeWindow time.Duration `yaml:"abnormal_resume_window"` // 4h
	OpeningWindow        time.Duration `yaml:"opening_window"`         // 30s
	MinSpeech            time.Duration `yaml:"min_speech"`             // 2s
}

func (pc PolicyConfig) over(base analysis.UnitPolicy) analysis.UnitPolicy {
	set := func(dst *time.Duration, v time.Duration) {
		if v != 0 {
			*dst = v
		}
	}
	p := base
	set(&p.Policy.UploadDeadline, pc.UploadDeadline)
	set(&p.OffloadWarn, pc.WarnAhead)
	set(&p.Policy.SplitTolerance, pc.SplitTolerance)
	set(&p.Policy.RestartWindow, pc.RestartWindow)
	set(&p.Policy.AbnormalResumeWindow, pc.AbnormalResumeWindow)
	set(&p.Policy.OpeningWindow, pc.OpeningWindow)
	set(&p.Policy.MinSpeech, pc.MinSpeech)
	return p
}

// policies returns the collector's policy and each unit's, checked.
func (c *Config) policies() (analysis.UnitPolicy, map[string]analysis.UnitPolicy, error) {
	check := func(what string, p analysis.UnitPolicy) error {
		if err := p.Policy.Validate(); err != nil {
			return fmt.Errorf("collector: %s: %w", what, err)
		}
		if p.OffloadWarn <= 0 || p.OffloadWarn >= p.Policy.UploadDeadline {
			return fmt.Errorf("collector: %s: warn_ahead %s must be within the upload deadline %s", what, p.OffloadWarn, p.Policy.UploadDeadline)
		}
		return nil
	}
	base := c.Analysis.Policy.over(analysis.UnitPolicy{Policy: rules.DefaultPolicy(), OffloadWarn: 4 * time.Hour})
	if err := check("analysis.policy", base); err != nil {
		return base, nil, err
	}
	units := map[string]analysis.UnitPolicy{}
	for u, pc := range c.Analysis.Units {
		if err := wire.ValidID(u); err != nil {
			return base, nil, fmt.Errorf("collector: analysis.units: %w", err)
		}
		p := pc.over(base)
		if err := check("analysis.units."+u, p); err != nil {
			return base, nil, err
		}
		units[u] = p
	}
	return base, units, nil
}
