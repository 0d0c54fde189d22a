// Package rules is the recording rules' vocabulary shared by the dock and
// the collector: which stop causes are abnormal (the words themselves are
// package wire's), and the unit's recording policy with its defaults — when
// two segments are one recording, and when a stop followed by a restart is
// an interruption whose resumed segment must open with the spoken reason.
// The collector's timeline applies these rules on drift-corrected time; the
// dock applies the same rules on device time only to decide what to upload
// first. It is part of the contract: both sides import it.
package rules

import (
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/wire"
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
		return fmt.Errorf("rules: policy windows must be positive: %+v", p)
	case p.OpeningWindow <= 0 || p.MinSpeech <= 0 || p.MinSpeech > p.OpeningWindow:
		return fmt.Errorf("rules: need 0 < min speech (%s) <= opening window (%s)", p.MinSpeech, p.OpeningWindow)
	case p.UploadDeadline <= 0:
		return fmt.Errorf("rules: upload deadline must be positive")
	}
	return nil
}

// Abnormal reports whether a stop cause is one the rules treat as an
// interruption of duty recording rather than the officer ending it.
func Abnormal(cause string) bool {
	switch cause {
	case wire.StopAutoSplit, wire.StopUser:
		return false
	}
	return true
}

// Joins reports whether a segment starting gap after one that stopped for
// cause continues the same recording: an automatic split, within the split
// tolerance (an overlap within the overlap tolerance counts too).
func (p Policy) Joins(cause string, gap time.Duration) bool {
	return cause == wire.StopAutoSplit && gap <= p.SplitTolerance && gap >= -p.OverlapTolerance
}

// ResumeWindow is how soon a new recording must start after a stop for
// cause to count as the stopped one resumed: RestartWindow after a user stop
// (or an automatic split that left footage missing), AbnormalResumeWindow
// after an abnormal stop.
func (p Policy) ResumeWindow(cause string) time.Duration {
	if Abnormal(cause) {
		return p.AbnormalResumeWindow
	}
	return p.RestartWindow
}

// Resumes reports whether a recording starting gap after one that stopped
// for cause (and that it does not join) is an interruption resumed: its
// opening must carry the wearer's spoken reason.
func (p Policy) Resumes(cause string, gap time.Duration) bool {
	return gap <= p.ResumeWindow(cause)
}
