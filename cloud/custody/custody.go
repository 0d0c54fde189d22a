// Package custody applies the agency's custody rules to evidence objects,
// joining the collector's store (who did what, when and why: the history)
// and the evidence store (the bytes and, on S3, the lock that the server
// itself enforces). Today it holds legal holds (rule 4 of DESIGN.md):
// set and lifted only by a supervisor or admin, with a reason, recorded.
//
// On the S3 backend a hold is also an S3 legal hold on the receipted
// version, so the server refuses to delete it whatever its retention says.
// The directory backend has no deletion at all (no code path in the
// collector deletes or overwrites an object), so there the rule is
// enforced by the application alone, and the recorded hold is what a
// future retention sweep must honour; Hold says which it did.
//
// Who acts is an explicit store.Actor given by the caller: people and
// roles are not in the collector yet, and a login plugs in at this seam.
package custody

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
)

// Holder is an evidence store that enforces legal holds itself
// (*evidence.S3).
type Holder interface {
	SetLegalHold(ctx context.Context, ref string, on bool) error
}

// Enforcement says who enforces a hold.
type Enforcement string

// Enforcements.
const (
	ByObjectStore Enforcement = "object-store" // an S3 legal hold on the version
	ByApplication Enforcement = "application"  // the directory backend: the collector never deletes
)

// Holds sets and lifts legal holds.
type Holds struct {
	Store    *store.Store
	Evidence evidence.Store
	Log      *slog.Logger
	// Floor is the retention a held object keeps from the moment it is
	// held (default evidence.MinRetention): on an S3 backend Set also
	// extends the version's retain-until to at least now+Floor. The S3
	// legal hold alone blocks deletion after retention ends on a server
	// that follows the S3 rules; versitygw v1.8.0 (the test server) skips
	// the legal-hold check once a version's retention has expired
	// (auth/object_lock.go checkObject), so the floor is what keeps a held
	// object there, and defence in depth elsewhere; the retention job
	// (Keeper, with the same Floor) renews it while the hold stands.
	// Retention is never shortened: after a lift the object stays until
	// the floor's date.
	Floor time.Duration
	Clock clockwork.Clock // the floor's start; nil: the real clock
}

// Set puts a legal hold on the object ref names (an id or id@version).
// The rules are checked before anything acts; the object store's hold is
// set before the record is written, so a failure leaves it held rather
// than recorded-but-deletable.
func (h Holds) Set(ctx context.Context, by store.Actor, ref, reason string) (Enforcement, error) {
	return h.apply(ctx, by, ref, reason, true)
}

// Lift lifts the legal hold of the object ref names. The record is written
// first, then the object store's hold lifted: a failure between the two
// leaves the object held (retry lifts it).
func (h Holds) Lift(ctx context.Context, by store.Actor, ref, reason string) (Enforcement, error) {
	return h.apply(ctx, by, ref, reason, false)
}

func (h Holds) apply(ctx context.Context, by store.Actor, ref, reason string, on bool) (Enforcement, error) {
	// Who may act is judged before the object is looked at, and a refusal
	// names nothing of it: a person who may not hold footage learns no
	// object id (a footage hash) from trying.
	if err := store.CheckHold(store.HoldEvent{ObjectID: ref, Held: on, By: by, Reason: reason}); err != nil {
		return "", fmt.Errorf("custody: hold: %w", err)
	}
	obj, err := h.Evidence.Stat(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("custody: hold %s: %w", ref, err)
	}
	ev := store.HoldEvent{ObjectID: obj.ID, Held: on, By: by, Reason: reason}
	if err := store.CheckHold(ev); err != nil {
		return "", fmt.Errorf("custody: hold %s: %w", ref, err)
	}
	holder, enforced := h.Evidence.(Holder)
	how := ByApplication
	if enforced {
		how = ByObjectStore
	}
	if on && enforced {
		if err := holder.SetLegalHold(ctx, obj.Ref(), true); err != nil {
			return "", fmt.Errorf("custody: hold %s: %w", obj.Ref(), err)
		}
		if err := h.floor(ctx, obj.Ref()); err != nil {
			return "", fmt.Errorf("custody: hold %s (the legal hold is set): %w", obj.Ref(), err)
		}
	}
	if err := h.Store.RecordHold(ctx, ev); err != nil {
		if !errors.Is(err, store.ErrHoldState) || on {
			return how, fmt.Errorf("custody: hold %s: %w", obj.Ref(), err)
		}
		// Lifting one recorded as lifted: make sure the store agrees.
	}
	if !on && enforced {
		if err := holder.SetLegalHold(ctx, obj.Ref(), false); err != nil {
			return how, fmt.Errorf("custody: lift hold %s (recorded as lifted; retry): %w", obj.Ref(), err)
		}
	}
	if h.Log != nil {
		h.Log.Info("custody: legal hold", "object", obj.Ref(), "held", on, "by", by.Name, "role", by.Role, "reason", reason, "enforced_by", how)
	}
	return how, nil
}

// floor extends a held version's retention to at least now+Floor.
func (h Holds) floor(ctx context.Context, ref string) error {
	ext, ok := h.Evidence.(Extender)
	if !ok {
		return nil
	}
	d := h.Floor
	if d <= 0 {
		d = evidence.MinRetention
	}
	cur, err := ext.Lock(ctx, ref)
	if err != nil {
		return err
	}
	until := clockOr(h.Clock).Now().Add(d)
	if !until.After(cur.RetainUntil) {
		return nil
	}
	return ext.ExtendRetention(ctx, ref, until)
}
