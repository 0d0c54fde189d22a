// Package alert is the one model of what the collector tells people, and its
// deliveries: an MQTT topic per unit and kind for supervisors' apps, webhooks
// (plain JSON, DingTalk and WeCom robot messages, which Chinese agencies
// use), and the web inbox through the store. An alert is deduplicated by its
// key, has a state (open, acknowledged with a comment or written
// explanation, closed) and escalates when left open.
package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/store"
)

// Severities.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Alert is one thing a supervisor or custodian must see.
type Alert struct {
	Key      string    `json:"key"` // deduplication key: the same finding raises one alert
	Kind     string    `json:"kind"`
	Severity string    `json:"severity"`
	Unit     string    `json:"unit"`
	Officer  string    `json:"officer,omitempty"`
	Serial   string    `json:"serial,omitempty"`
	Seq      uint64    `json:"seq,omitempty"`
	Dock     string    `json:"dock,omitempty"`
	Title    string    `json:"title"`
	Detail   string    `json:"detail"`
	At       time.Time `json:"at"` // when the event happened
	Evidence Evidence  `json:"evidence"`
	// Rule is the rule and the regulation's articles the alert stands on
	// (set from Kind by Cite).
	Rule   *Rule     `json:"rule,omitempty"`
	State  string    `json:"state"`
	Opened time.Time `json:"opened"`
	// Escalation counts how many times the alert was escalated while open.
	Escalation int `json:"escalation"`
	// Link is a short-lived signed link to the alert's page on the
	// console (Links.For), set by the engine on each delivery; opening
	// the page still needs a sign-in.
	Link string `json:"link,omitempty"`
}

// Evidence is what a supervisor needs to judge the alert in a minute.
type Evidence struct {
	StoppedAt     time.Time `json:"stopped_at,omitzero"`
	ResumedAt     time.Time `json:"resumed_at,omitzero"`
	StopCause     string    `json:"stop_cause,omitempty"`
	SpeechSeconds float64   `json:"speech_seconds,omitempty"`
	SpeechOnset   float64   `json:"speech_onset_s,omitempty"`
	ReasonSpoken  *bool     `json:"reason_spoken,omitempty"`
	Transcript    string    `json:"transcript,omitempty"`
	// Regions are the sounds the reason check heard in the opening
	// window, each with the source it was judged to be and why.
	Regions []SpeechRegion `json:"regions,omitempty"`
	// CheckAttempts counts failed spoken-reason checks; the next is not
	// tried before NextCheck (the engine backs off).
	CheckAttempts int       `json:"check_attempts,omitempty"`
	NextCheck     time.Time `json:"next_check,omitzero"`
	// StopCauseFrom is "event-log" when the recorder's own event log, not
	// the segment's listing, gave StopCause.
	StopCauseFrom string `json:"stop_cause_from,omitempty"`
	// Events are the recorder's own log entries near the finding (power,
	// record start and stop, alarms, button marks), times corrected.
	Events []RecorderEvent `json:"events,omitempty"`
}

// RecorderEvent is one entry of the recorder's event log shown with a
// finding; At is on the dock's (true) clock.
type RecorderEvent struct {
	Index  uint64    `json:"index"`
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Seq    uint64    `json:"seq,omitempty"`
	Detail string    `json:"detail,omitempty"`
	// Disputed: another dock read this entry otherwise (an
	// event-log-conflict alert); this, the first read, stands.
	Disputed bool `json:"disputed,omitempty"`
}

// SpeechRegion is one sound the reason check heard: its place in the
// opening window, what it was judged to be (wearer, bystander,
// loudspeaker, music, prompt, noise), why, and the wearer's speech time in
// it (0 unless counted as the wearer).
type SpeechRegion struct {
	Start         float64 `json:"start_s"`
	End           float64 `json:"end_s"`
	Source        string  `json:"source"`
	Counted       bool    `json:"counted"`
	SpeechSeconds float64 `json:"speech_s"`
	Why           string  `json:"why"`
}

// MarshalJSON writes speech_seconds whenever the reason check ran
// (ReasonSpoken set), even when it is zero: "no speech heard" is the
// evidence of an unexplained interruption, and a missing field would read
// as "not checked".
func (e Evidence) MarshalJSON() ([]byte, error) {
	type plain Evidence // without this method
	if e.ReasonSpoken == nil {
		return json.Marshal(plain(e))
	}
	return json.Marshal(struct {
		plain
		SpeechSeconds float64 `json:"speech_seconds"` // shallower: replaces plain's omitempty field
	}{plain(e), e.SpeechSeconds})
}

// Cite sets the alert's rule from its kind.
func (a *Alert) Cite() { a.Rule = RuleOf(a.Kind) }

// ErrInvalid reports an alert missing what every delivery needs.
var ErrInvalid = errors.New("alert: invalid alert")

// Validate checks the fields every delivery relies on.
func (a *Alert) Validate() error {
	switch {
	case a.Key == "" || a.Kind == "" || a.Title == "":
		return fmt.Errorf("%w: key, kind and title are required", ErrInvalid)
	case a.Unit == "":
		return fmt.Errorf("%w: %s has no unit", ErrInvalid, a.Key)
	case a.Severity != SeverityInfo && a.Severity != SeverityWarning && a.Severity != SeverityCritical:
		return fmt.Errorf("%w: severity %q", ErrInvalid, a.Severity)
	}
	return nil
}

// EscalationDue reports whether an open alert, opened at a.Opened and
// escalated a.Escalation times, is due for its next escalation at now: after
// every, 2×every, 4×every … left open.
func (a *Alert) EscalationDue(now time.Time, every time.Duration) bool {
	if a.State != store.AlertOpen || every <= 0 {
		return false
	}
	return now.Sub(a.Opened) >= every<<a.Escalation
}
