package timeline

import (
	"fmt"
	"time"
)

// Policy is a unit's recording policy. The zero value is not useful; start
// from DefaultPolicy and override.
type Policy struct {
	// SplitTolerance joins two segments into one recording when the first
	// ended by automatic file splitting and the next starts within this gap.
	SplitTolerance time.Duration
	// RestartWindow: a user stop followed by a new recording within this
	// window is an interruption (recording stopped and resumed).
	RestartWindow time.Duration
	// AbnormalResumeWindow: an abnormal stop (low battery, storage full,
	// fault, power loss, unknown) followed by a new recording within this
	// window is an interruption; with none, the stop is "abnormal without
	// resume" and a written explanation is due.
	AbnormalResumeWindow time.Duration
	// OpeningWindow of a resumed recording that must contain the wearer's
	// spoken reason, and the minimum wearer speech in it.
	OpeningWindow time.Duration
	MinSpeech     time.Duration
	// UploadDeadline: footage must reach storage within this time of the end
	// of its recording (rule 1: 24 hours).
	UploadDeadline time.Duration
	// OverlapTolerance ignores overlaps smaller than this (clock jitter).
	OverlapTolerance time.Duration
}

// DefaultPolicy returns the defaults of the agencies' rules.
func DefaultPolicy() Policy {
	return Policy{
		SplitTolerance:       2 * time.Second,
		RestartWindow:        10 * time.Minute,
		AbnormalResumeWindow: 4 * time.Hour,
		OpeningWindow:        30 * time.Second,
		MinSpeech:            2 * time.Second,
		UploadDeadline:       24 * time.Hour,
		OverlapTolerance:     time.Second,
	}
}

// Validate reports a policy that cannot be applied.
func (p Policy) Validate() error {
	switch {
	case p.SplitTolerance < 0, p.RestartWindow <= 0, p.AbnormalResumeWindow <= 0, p.OverlapTolerance < 0:
		return fmt.Errorf("timeline: policy windows must be positive: %+v", p)
	case p.OpeningWindow <= 0 || p.MinSpeech <= 0 || p.MinSpeech > p.OpeningWindow:
		return fmt.Errorf("timeline: need 0 < min speech (%s) <= opening window (%s)", p.MinSpeech, p.OpeningWindow)
	case p.UploadDeadline <= 0:
		return fmt.Errorf("timeline: upload deadline must be positive")
	}
	return nil
}
