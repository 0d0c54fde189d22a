package custody

import (
	"context"
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
)

// Retention is the retention policy (rule 4): how long footage is kept
// from its recording, by default, per unit, and per case type once it is
// linked to a case; the longest that applies wins, and none is shorter
// than evidence.MinRetention.
type Retention struct {
	Default   time.Duration
	Units     map[string]time.Duration
	CaseTypes map[string]time.Duration // e.g. "complaint", "lawsuit"
}

// For is the retention of footage of unit linked to cases of the given
// types.
func (r Retention) For(unit string, caseTypes ...string) time.Duration {
	d := max(r.Default, evidence.MinRetention)
	d = max(d, r.Units[unit])
	for _, t := range caseTypes {
		d = max(d, r.CaseTypes[t])
	}
	return d
}

// Extender is an evidence store that enforces retention itself
// (*evidence.S3).
type Extender interface {
	Lock(ctx context.Context, ref string) (evidence.Lock, error)
	ExtendRetention(ctx context.Context, ref string, until time.Time) error
}

// Linker links footage to cases after the fact and applies the retention
// policy: the link is recorded (store.LinkCase checks who and why), then
// the object's retention is extended to the policy's for the unit and
// every case type the segment is linked to, counted from the recording's
// start. On the S3 backend the server then refuses deletion until that
// date; the directory backend deletes nothing, so there the policy is the
// application's (Link says which).
type Linker struct {
	Store    *store.Store
	Evidence evidence.Store
	Policy   Retention
}

// Link records l and extends the segment's retention; it returns the
// retain-until date the policy asks for and who enforces it.
func (k Linker) Link(ctx context.Context, l store.CaseLink) (time.Time, Enforcement, error) {
	if err := k.Store.LinkCase(ctx, l); err != nil {
		return time.Time{}, "", err
	}
	hits, err := k.Store.FindFootage(ctx, store.CaseQuery{Case: l.Case})
	if err != nil {
		return time.Time{}, "", err
	}
	for _, h := range hits {
		if h.Serial != l.Serial || h.Seq != l.Seq {
			continue
		}
		var types []string
		for _, x := range h.Links {
			types = append(types, x.Type)
		}
		until := h.Start.Add(k.Policy.For(h.Unit, types...))
		ext, ok := k.Evidence.(Extender)
		if !ok || h.Object == "" {
			return until, ByApplication, nil
		}
		cur, err := ext.Lock(ctx, h.Object)
		if err != nil {
			return until, ByObjectStore, fmt.Errorf("custody: retention of %s: %w", h.Object, err)
		}
		if until.After(cur.RetainUntil) {
			if err := ext.ExtendRetention(ctx, h.Object, until); err != nil {
				return until, ByObjectStore, fmt.Errorf("custody: extend retention of %s (the link is recorded): %w", h.Object, err)
			}
		}
		return until, ByObjectStore, nil
	}
	return time.Time{}, "", fmt.Errorf("custody: %s/%d linked to %s but not found by it", l.Serial, l.Seq, l.Case)
}
