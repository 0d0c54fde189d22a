package ingest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/ingest"
	"github.com/berthdock/berth/cloud/store"
)

// slowStore makes each commit take a while, so a shutdown lands in the
// middle of one.
type slowStore struct {
	*store.Store
	started chan struct{}
	n       atomic.Int32
}

func (s *slowStore) Commit(ctx context.Context, msgs []store.Incoming) ([]bool, error) {
	if s.n.Add(1) == 1 {
		close(s.started)
	}
	time.Sleep(300 * time.Millisecond)
	return s.Store.Commit(ctx, msgs) // ctx may be cancelled by now: ingest commits again under its drain deadline
}

// Cancelling Run while a commit is in flight finishes that commit and acks
// it before Run returns; nothing committed is left unacknowledged.
func TestShutdownFinishesInFlight(t *testing.T) {
	d := sqliteDB(t)
	st := d.open(t)
	e := embedded(t, st)
	prefix := "ts" + randHex(4)
	docks := newDocks(t, st, prefix, 1)
	dk := docks[0]
	ss := &slowStore{Store: st, started: make(chan struct{})}
	c := startCollector(t, e, ss, "g-"+randHex(4), dockFilters(docks), func(c *ingest.Config) { c.Conns = 1 })
	dk.connect(t, e)
	msgs := dk.manifests(t, 50)
	for _, m := range msgs {
		dk.client.Publish(m.topic, 1, false, m.payload)
	}
	<-ss.started
	c.stop()
	select {
	case err := <-c.done:
		c.done <- err // for the cleanup
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	committed := d.count(t, d.raw(t), "messages", prefix)
	if committed == 0 {
		t.Fatal("the in-flight commit was abandoned")
	}
	// Acks were published before Run returned; give the broker a moment to
	// deliver them.
	waitFor(t, "acks for every committed report", 5*time.Second, func() bool { return dk.ackedCount() >= committed })
	t.Logf("%d of %d committed and acknowledged during shutdown", committed, len(msgs))
}
