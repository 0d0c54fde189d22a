package analysis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// PassResult is what one pass did.
type PassResult struct {
	Created []alert.Alert // alerts raised (each delivered once, by whichever engine claimed it)
	Judged  []string      // recorders judged, each once
	Retry   []string      // recorders whose judgement failed: due again after Every
}

// PassReport judges the recorders due, then the docks, delivers what nobody
// delivered yet and escalates.
//
// A recorder is due when something about it was committed since it was
// last judged (a segment, a receipt, a docking, a health report: the store
// marks it in the same transaction) or when one of its rules' clocks runs
// out (an upload deadline, a resume window, a reason check's retry). The
// engine claims due recorders in batches under a lease (store.ClaimWork:
// PostgreSQL's FOR UPDATE SKIP LOCKED), so engines sharing a store split
// them, and marks each judged (store.Judged) only after every alert of its
// judgement is stored: a judgement that failed or was cut short leaves the
// recorder due, taken again once the lease lapses. A quiet fleet costs a
// pass one indexed read.
func (e *Engine) PassReport(ctx context.Context) (PassResult, error) {
	var res PassResult
	var errs []error
	for {
		work, err := e.st.ClaimWork(ctx, e.cfg.Owner, e.cfg.Lease, e.cfg.Batch)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if len(work) == 0 {
			break
		}
		r, err := e.judgeBatch(ctx, work)
		res.Created = append(res.Created, r.Created...)
		res.Judged = append(res.Judged, r.Judged...)
		res.Retry = append(res.Retry, r.Retry...)
		if err != nil {
			errs = append(errs, err)
		}
		if len(work) < e.cfg.Batch || ctx.Err() != nil {
			break // the rest came in during the pass: the next pass
		}
	}
	docks, err := e.st.Docks(ctx)
	if err == nil {
		standing := map[string]bool{}
		var as []alert.Alert
		as, err = e.docks(ctx, docks, standing)
		res.Created = append(res.Created, as...)
		if err == nil {
			// Only after every dock was judged: a dock that failed must
			// not have its conditions closed for want of a finding.
			err = e.closeLifted(ctx, dockConditions, standing)
		}
	}
	errs = append(errs, err, e.announcePending(ctx), e.escalate(ctx))
	return res, errors.Join(errs...)
}

// judgeBatch judges the claimed recorders: it reads what they are judged
// on with one statement per table for the whole batch (readBatch), assesses
// each, reads the alerts of all their findings at once, then stores each
// recorder's judgement, with cfg.Workers goroutines.
func (e *Engine) judgeBatch(ctx context.Context, work []store.Work) (PassResult, error) {
	serials := make([]string, len(work))
	for i, w := range work {
		serials[i] = w.Serial
	}
	now := e.cfg.Clock.Now()
	retry := func(err error) (PassResult, error) {
		// The whole batch is due again: leased until the next pass.
		for _, w := range work {
			err = errors.Join(err, e.st.RetryWork(ctx, e.cfg.Owner, w.Serial, now.Add(e.cfg.Every)))
		}
		return PassResult{Retry: serials}, err
	}
	devs, err := e.st.DevicesOf(ctx, serials)
	if err != nil {
		return retry(err)
	}
	// Footage is judged whenever it arrives, however old: the lookback
	// bounds what is re-read, measured from the oldest footage that
	// arrived within it.
	late, err := e.st.LateArrivalsOf(ctx, serials, now.Add(-e.cfg.Lookback), now.Add(-e.cfg.Lookback))
	if err != nil {
		return retry(err)
	}
	rcs, err := e.readBatch(ctx, now, devs, late)
	if err != nil {
		return retry(err)
	}
	assessed := make(map[string]*assessment, len(devs))
	var mu sync.Mutex
	e.parallel(len(devs), func(i int) {
		as := e.assess(devs[i], rcs[devs[i].Serial], now)
		mu.Lock()
		assessed[devs[i].Serial] = as
		mu.Unlock()
	})
	var keys []string
	for _, d := range devs {
		keys = append(keys, assessed[d.Serial].keys()...)
	}
	got, err := e.st.AlertsByKeys(ctx, keys)
	if err != nil {
		return retry(err)
	}
	k := e.known(keys, got)
	var (
		res  PassResult
		done []store.Judgement
		errs []error
	)
	raised := make([][]alert.Alert, len(work))
	e.parallel(len(work), func(i int) {
		w := work[i]
		as, j, err := e.judgeOne(ctx, w, assessed[w.Serial], k)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.Retry = append(res.Retry, w.Serial)
			errs = append(errs, err)
		} else {
			raised[i] = as
			done = append(done, j)
		}
	})
	// The alerts of every judgement that succeeded, stored in one
	// transaction (their announcements claimed in one more) rather than
	// two per alert. Should it fail, those recorders are due again.
	created, err := e.flush(ctx, k, slices.Concat(raised...))
	res.Created = append(res.Created, created...)
	if err != nil {
		errs = append(errs, fmt.Errorf("analysis: store alerts: %w", err))
		for _, j := range done {
			res.Retry = append(res.Retry, j.Serial)
			errs = append(errs, e.st.RetryWork(ctx, e.cfg.Owner, j.Serial, now.Add(e.cfg.Every)))
		}
		done = nil
	}
	// Every judgement of the batch is stored: one transaction ends the
	// leases. Should it fail, the leases lapse and the batch is judged
	// again (its alerts are keyed: found, not raised twice).
	if err := e.st.Judged(ctx, e.cfg.Owner, done); err != nil {
		errs = append(errs, err)
		for _, j := range done {
			res.Retry = append(res.Retry, j.Serial)
		}
		done = nil
	}
	for _, j := range done {
		res.Judged = append(res.Judged, j.Serial)
	}
	return res, errors.Join(errs...)
}

// parallel calls fn(0) ... fn(n-1) on cfg.Workers goroutines and returns
// when all returned.
func (e *Engine) parallel(n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(e.cfg.Workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// judgeOne judges one claimed recorder (as, nil for a recorder no dock
// reported on) and returns the alerts to raise (judgeBatch stores them
// with the batch's), or leaves it due for the next pass.
func (e *Engine) judgeOne(ctx context.Context, w store.Work, as *assessment, k *knownAlerts) ([]alert.Alert, store.Judgement, error) {
	if as == nil {
		// Footage of a recorder no dock reported on yet: judged when its
		// first health report arrives (which marks it again).
		return nil, store.Judgement{Work: w}, nil
	}
	out, next, err := e.act(ctx, as, k)
	if err != nil {
		err = fmt.Errorf("analysis: device %s: %w", w.Serial, err)
		if rerr := e.st.RetryWork(ctx, e.cfg.Owner, w.Serial, e.cfg.Clock.Now().Add(e.cfg.Every)); rerr != nil {
			// The lease lapses instead: retried all the same, later.
			err = errors.Join(err, rerr)
		}
	}
	return out, store.Judgement{Work: w, Next: next}, err
}

// wake collects when a recorder must next be judged though nothing about
// it changes: the earliest instant after now at which one of its rules'
// clocks runs out.
type wake struct{ now, at time.Time }

func (w *wake) by(t time.Time) {
	if t.After(w.now) && (w.at.IsZero() || t.Before(w.at)) {
		w.at = t
	}
}

// deadlines adds the instants at which the judgement of a recorder with
// these (corrected) segments changes by the clock alone: footage not in
// storage becomes overdue, an abnormal stop not resumed in time becomes
// its finding, the recorder out since lastDocked comes within the warning
// of its deadline and reaches it.
func (w *wake) deadlines(segEnds []segClock, lastDocked time.Time, up UnitPolicy) {
	p := up.Policy
	for _, s := range segEnds {
		if s.received.IsZero() {
			w.by(s.end.Add(p.UploadDeadline + time.Nanosecond))
		}
		if rules.Abnormal(s.cause) {
			w.by(s.end.Add(p.AbnormalResumeWindow + time.Nanosecond))
		}
	}
	if !lastDocked.IsZero() {
		due := lastDocked.Add(p.UploadDeadline)
		w.by(due.Add(-up.OffloadWarn))
		w.by(due.Add(time.Nanosecond))
	}
}

// segClock is what of a segment the rules' clocks run on.
type segClock struct {
	end, received time.Time
	cause         string
}

func defaultOwner() string {
	h, _ := os.Hostname() // a name for logs and leases: any will do
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", h, os.Getpid(), hex.EncodeToString(b[:]))
}
