package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// commitLoop gathers batches from the queue and commits them, until the
// queue is closed and drained. After ctx ends, the batches still held are
// committed under a fresh deadline of ShutdownTimeout.
func (in *Ingest) commitLoop(ctx context.Context) {
	batch := make([]pending, 0, in.cfg.MaxBatch)
	timer := in.clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		p, ok := <-in.incoming
		if !ok {
			return
		}
		batch = append(batch[:0], p)
		timer.Reset(in.cfg.FlushInterval)
		closed := false
	fill:
		for len(batch) < in.cfg.MaxBatch {
			select {
			case p, ok := <-in.incoming:
				if !ok {
					closed = true
					break fill
				}
				batch = append(batch, p)
			case <-timer.Chan():
				break fill
			}
		}
		timer.Stop()
		in.commitBatch(ctx, batch)
		if closed {
			return
		}
	}
}

// commitBatch commits, retrying transient failures, then acknowledges the
// broker (PUBACK) and the docks (ack ids). A batch that cannot be committed
// before shutdown is given up unacknowledged: it is delivered again.
func (in *Ingest) commitBatch(ctx context.Context, batch []pending) {
	dc := drainCtx{parent: ctx, timeout: in.cfg.ShutdownTimeout}
	defer dc.close()
	bo := &backoff.ExponentialBackOff{InitialInterval: 50 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: 5 * time.Second}
	bo.Reset()
	for len(batch) > 0 {
		cctx := dc.get()
		incs := make([]store.Incoming, len(batch))
		for i, p := range batch {
			incs[i] = p.inc
		}
		start := in.clock.Now()
		dup, err := in.st.Commit(cctx, incs)
		if err == nil {
			in.m.commitSecs.Observe(in.clock.Since(start).Seconds())
			in.m.batchSize.Observe(float64(len(batch)))
			in.acknowledge(batch, dup)
			return
		}
		var ie *store.InvalidError
		if errors.As(err, &ie) && ie.Index >= 0 && ie.Index < len(batch) {
			// The store refused one message (nothing was written): drop it
			// with a reason and commit the others.
			bad := batch[ie.Index]
			for _, m := range append(in.release(heldKey{bad.inc.Env.Dock, bad.inc.Env.ID}), bad.msg) {
				in.rejected(reject(ReasonStoreRefused, ie.Err), m.Topic(), m.Payload())
				m.Ack()
			}
			in.refuse(bad.inc.Env.Dock, bad.inc.Env.ID, reject(ReasonStoreRefused, ie.Err))
			batch = slices.Delete(batch, ie.Index, ie.Index+1)
			continue
		}
		in.m.commitErrs.Inc()
		if dc.draining() && cctx.Err() != nil {
			in.log.Error("ingest: giving up a batch at shutdown; it is delivered again", "messages", len(batch), "err", err)
			for _, p := range batch {
				in.release(heldKey{p.inc.Env.Dock, p.inc.Env.ID})
			}
			return
		}
		if !dc.draining() && ctx.Err() != nil {
			continue // cut by the shutdown: commit again under the drain deadline
		}
		wait := bo.NextBackOff()
		in.log.Error("ingest: commit failed; retrying", "messages", len(batch), "err", err, "in", wait)
		select {
		case <-cctx.Done():
		case <-in.clock.After(wait):
		}
	}
}

// drainCtx is Run's ctx until it ends, then a fresh one bounded by the
// shutdown timeout: what a collector holds when asked to stop is still
// committed and acknowledged.
type drainCtx struct {
	parent  context.Context
	timeout time.Duration
	ctx     context.Context
	cancel  context.CancelFunc
}

func (d *drainCtx) get() context.Context {
	if d.cancel == nil && d.parent.Err() != nil {
		d.ctx, d.cancel = context.WithTimeout(context.WithoutCancel(d.parent), d.timeout)
	}
	if d.cancel != nil {
		return d.ctx
	}
	return d.parent
}

func (d *drainCtx) draining() bool { return d.cancel != nil }

func (d *drainCtx) close() {
	if d.cancel != nil {
		d.cancel()
	}
}

// acknowledge PUBACKs every message of a committed batch and queues one
// ack per dock naming its ids, fresh and duplicate alike, for ackLoop.
func (in *Ingest) acknowledge(batch []pending, dup []bool) {
	byDock := map[string][]string{}
	var docks []string
	for i, p := range batch {
		if i < len(dup) && dup[i] {
			in.m.duplicates.Inc()
		} else {
			in.m.committed.Inc()
		}
		p.msg.Ack()
		for _, m := range in.release(heldKey{p.inc.Env.Dock, p.inc.Env.ID}) {
			m.Ack() // copies that arrived during the commit: acknowledged by the same ack
		}
		d := p.inc.Env.Dock
		if _, ok := byDock[d]; !ok {
			docks = append(docks, d)
		}
		byDock[d] = append(byDock[d], p.inc.Env.ID)
	}
	in.ackq <- ackJob{docks: docks, byDock: byDock}
}

// ackJob is the docks' acks of one committed batch, or one negative ack.
type ackJob struct {
	docks   []string
	byDock  map[string][]string
	refused map[string][]wire.Refusal
}

// refuse queues a negative ack: the dock's report id was refused for good,
// for the rejection's reason; the dock drops it instead of sending it
// again. A full queue drops the negative ack (the dock sends the report
// again and it is refused again).
func (in *Ingest) refuse(dock, id string, rj *Rejection) {
	why := rj.Reason + ": " + rj.Err.Error()
	if len(why) > 512 {
		why = strings.ToValidUTF8(why[:512], "") + "…"
	}
	select {
	case in.ackq <- ackJob{docks: []string{dock}, refused: map[string][]wire.Refusal{dock: {{ID: id, Reason: why}}}}:
	default:
	}
}

// ackLoop publishes the docks' acks until the queue is closed (after the
// committers have returned). Waiting for the broker to take them (a round
// trip, 30–35 ms per batch under load in BenchmarkIngestMosquittoPostgres)
// is done here, not by the committers, which go on to the next batch.
func (in *Ingest) ackLoop() {
	for j := range in.ackq {
		if err := in.publishAcks(j.docks, j.byDock, j.refused); err != nil {
			in.m.ackErrors.Inc()
			in.log.Warn("ingest: ack not published; the docks send again and are acknowledged then", "err", err)
		}
	}
}

func (in *Ingest) publishAcks(docks []string, byDock map[string][]string, refused map[string][]wire.Refusal) error {
	cl, err := in.publisher()
	if err != nil {
		return err
	}
	type sent struct {
		tok interface {
			WaitTimeout(time.Duration) bool
			Error() error
		}
		n int
	}
	var toks []sent
	now := in.clock.Now()
	for _, d := range docks {
		ids := append([]string{}, byDock[d]...) // never null on the wire
		id := fmt.Sprintf("ack-%s-%d", in.instance, in.ackSeq.Add(1))
		env, err := wire.NewEnvelope(id, d, now, wire.TypeAck, &wire.Ack{IDs: ids, Refused: refused[d]})
		if err != nil {
			return err
		}
		b, err := env.Marshal()
		if err != nil {
			return fmt.Errorf("ingest: encode ack: %w", err)
		}
		toks = append(toks, sent{cl.Publish(wire.AckTopic(d), 1, false, b), len(ids)})
	}
	var errs []error
	for _, t := range toks {
		if !t.tok.WaitTimeout(10 * time.Second) {
			errs = append(errs, fmt.Errorf("%w: ack not confirmed by the broker", ErrNotConnected))
			continue
		}
		if err := t.tok.Error(); err != nil {
			errs = append(errs, err)
			continue
		}
		in.m.acks.Add(float64(t.n))
	}
	return errors.Join(errs...)
}
