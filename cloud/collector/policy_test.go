package collector

import (
	"strings"
	"testing"
	"time"
)

// TestPolicies: the recording policy is the rules' defaults, overridden by
// analysis.policy and then per unit; a policy that cannot be applied is
// refused at start.
func TestPolicies(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   PolicyConfig
		units    map[string]PolicyConfig
		err      string
		deadline map[string]time.Duration // unit ("" the base) -> upload deadline
		warn     map[string]time.Duration
	}{
		{name: "defaults", deadline: map[string]time.Duration{"": 24 * time.Hour}, warn: map[string]time.Duration{"": 4 * time.Hour}},
		{name: "unit override", policy: PolicyConfig{WarnAhead: 2 * time.Hour},
			units:    map[string]PolicyConfig{"unit-3": {UploadDeadline: 12 * time.Hour, MinSpeech: 3 * time.Second}},
			deadline: map[string]time.Duration{"": 24 * time.Hour, "unit-3": 12 * time.Hour},
			warn:     map[string]time.Duration{"": 2 * time.Hour, "unit-3": 2 * time.Hour}},
		{name: "min speech beyond the opening window", units: map[string]PolicyConfig{"u": {MinSpeech: time.Minute}}, err: "min speech"},
		{name: "warning after the deadline", policy: PolicyConfig{UploadDeadline: 2 * time.Hour}, err: "warn_ahead"},
		{name: "bad unit id", units: map[string]PolicyConfig{"a b": {}}, err: "identifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			c.Analysis.Policy, c.Analysis.Units = tc.policy, tc.units
			base, units, err := c.policies()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for u, want := range tc.deadline {
				p := base
				if u != "" {
					p = units[u]
				}
				if p.Policy.UploadDeadline != want || p.OffloadWarn != tc.warn[u] {
					t.Errorf("unit %q: deadline %s warn %s, want %s %s", u, p.Policy.UploadDeadline, p.OffloadWarn, want, tc.warn[u])
				}
			}
			if u, ok := units["unit-3"]; ok && (u.Policy.MinSpeech != 3*time.Second || u.Policy.OpeningWindow != 30*time.Second) {
				t.Errorf("unit-3 policy %+v", u.Policy)
			}
		})
	}
}
