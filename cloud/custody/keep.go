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

// Keeper re-applies the retention rules to the object lock as time passes
// (rule 4): a retain-until date is fixed when it is set, so without this
// job a held object's lock lapses once the floor its hold set has passed
// (and versitygw, the test server, then lets it be deleted despite the
// hold: see Holds.Floor), and a case link's retention never reaches an
// object receipted after the link was made, or one whose extension failed
// at link time, or a policy lengthened since.
//
// Each run (Apply) extends, never shortens:
//   - every held object's retain-until, once less than Renew of it is
//     left, to now+Floor;
//   - every case-linked object's retain-until to its policy's date (the
//     recording's start plus Policy.For its unit and case types) where
//     the lock ends earlier.
//
// A run that finds everything in place changes nothing, so running it
// again, or on several collectors at once, is harmless. On the directory
// backend there is no lock to extend (the application deletes nothing):
// Apply reports ByApplication and does nothing.
type Keeper struct {
	Store    *store.Store
	Evidence evidence.Store
	Policy   Retention
	// Floor is how far ahead a held object's lock is kept (default
	// evidence.MinRetention, as Holds.Floor).
	Floor time.Duration
	// Renew is how close to its end a held object's lock is extended
	// (default 30 days; at most Floor).
	Renew time.Duration
	Clock clockwork.Clock // nil: the real clock
	Log   *slog.Logger    // nil: slog.Default()
}

// KeepReport says what a run did.
type KeepReport struct {
	How      Enforcement
	Held     int // held objects looked at
	Linked   int // case-linked objects looked at
	Extended int // locks extended
	Failed   int // objects whose lock could not be read or extended (logged)
}

// DefaultRenew is Keeper.Renew's default.
const DefaultRenew = 30 * 24 * time.Hour

// Apply runs the job once. An object whose lock cannot be read or extended
// is logged and counted, and the run goes on; the error then says how many
// failed.
func (k Keeper) Apply(ctx context.Context) (KeepReport, error) {
	ext, ok := k.Evidence.(Extender)
	if !ok {
		return KeepReport{How: ByApplication}, nil
	}
	log, clock := logOr(k.Log), clockOr(k.Clock)
	floor := k.Floor
	if floor <= 0 {
		floor = evidence.MinRetention
	}
	renew := k.Renew
	if renew <= 0 {
		renew = DefaultRenew
	}
	renew = min(renew, floor)
	rep := KeepReport{How: ByObjectStore}
	extend := func(ref string, want func(now time.Time, cur evidence.Lock) time.Time) {
		cur, err := ext.Lock(ctx, ref)
		if err == nil {
			until := want(clock.Now(), cur)
			if !until.After(cur.RetainUntil) {
				return
			}
			if err = ext.ExtendRetention(ctx, ref, until); err == nil {
				rep.Extended++
				log.Info("custody: retention extended", "object", ref, "from", cur.RetainUntil, "until", until)
				return
			}
		}
		if ctx.Err() == nil {
			rep.Failed++
			log.Error("custody: retention not applied", "object", ref, "err", err)
		}
	}
	held, err := k.Store.HeldObjects(ctx)
	if err != nil {
		return rep, fmt.Errorf("custody: retention: %w", err)
	}
	for _, id := range held {
		rep.Held++
		extend(id, func(now time.Time, cur evidence.Lock) time.Time {
			if cur.RetainUntil.After(now.Add(renew)) {
				return time.Time{} // enough left
			}
			return now.Add(floor)
		})
	}
	var serial string
	var seq uint64
	for {
		hits, err := k.Store.LinkedFootage(ctx, serial, seq, 500)
		if err != nil {
			return rep, fmt.Errorf("custody: retention: %w", err)
		}
		for _, h := range hits {
			rep.Linked++
			var types []string
			for _, l := range h.Links {
				types = append(types, l.Type)
			}
			until := h.Start.Add(k.Policy.For(h.Unit, types...))
			extend(h.Object, func(time.Time, evidence.Lock) time.Time { return until })
		}
		if len(hits) < 500 {
			break
		}
		serial, seq = hits[len(hits)-1].Serial, hits[len(hits)-1].Seq
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if rep.Failed > 0 {
		return rep, fmt.Errorf("custody: retention: %w: %d of %d objects", errNotApplied, rep.Failed, rep.Held+rep.Linked)
	}
	return rep, nil
}

var errNotApplied = errors.New("lock not extended")

// Run applies the job now and every interval until ctx ends, logging what
// each run did.
func (k Keeper) Run(ctx context.Context, every time.Duration) {
	log := logOr(k.Log)
	runEvery(ctx, every, func() {
		rep, err := k.Apply(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("custody: retention run", "err", err, "extended", rep.Extended)
		case rep.Extended > 0:
			log.Info("custody: retention run", "held", rep.Held, "linked", rep.Linked, "extended", rep.Extended)
		}
	})
}

// runEvery calls run now and then every interval until ctx ends: the
// custody jobs' loop.
func runEvery(ctx context.Context, every time.Duration, run func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		run()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// clockOr is c, or the real clock when c is nil.
func clockOr(c clockwork.Clock) clockwork.Clock {
	if c == nil {
		return clockwork.NewRealClock()
	}
	return c
}

func logOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
