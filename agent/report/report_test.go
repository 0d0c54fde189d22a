package report

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// (a) Entries are published and leave the outbox only after the
// collector's ack, not after the broker's PUBACK.
func TestDeletedOnlyAfterAck(t *testing.T) {
	onBothBrokers(t, func(t *testing.T, addr string) {
		dock := newDock(t)
		clearRetained(t, addr, wire.StateTopic(dock))
		box := newBox(t)
		col := newCollector(t, addr, dock, false)
		ids := put(t, box, dock, 5)
		r := startReporter(t, testConfig(dock, addr), box, nil)
		eventually(t, 5*time.Second, "every entry published", func() bool {
			for _, id := range ids {
				if len(col.arrivals(id)) == 0 {
					return false
				}
			}
			return true
		})
		// Published, PUBACKed by the broker, received: still queued.
		time.Sleep(100 * time.Millisecond)
		if n := box.Len(); n != 5 {
			t.Fatalf("outbox holds %d entries before any ack, want 5", n)
		}
		col.ack(ids[:2]...)
		eventually(t, 5*time.Second, "two entries acked", func() bool { return box.Len() == 3 })
		pending, err := box.Pending(10)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range pending {
			if m.ID != ids[2+i] {
				t.Errorf("pending[%d] = %s, want %s", i, m.ID, ids[2+i])
			}
		}
		col.ack(ids[2:]...)
		eventually(t, 5*time.Second, "outbox drained", func() bool { return box.Len() == 0 })
		// Entries put while running go out on Kick and are acked too.
		col.setAutoAck(true)
		more := put(t, box, dock, 3)
		r.Kick()
		eventually(t, 5*time.Second, "later entries acked", func() bool { return box.Len() == 0 })
		for _, id := range more {
			if len(col.arrivals(id)) == 0 {
				t.Errorf("%s never arrived", id)
			}
		}
		eventually(t, 5*time.Second, "8 acks counted", func() bool { _, acked, _ := r.Stats(); return acked == 8 })
		if pub, acked, rej := r.Stats(); pub < 8 || acked != 8 || rej != 0 || r.UnknownAcks() != 0 {
			t.Errorf("stats: published %d acked %d rejected %d unknown %d; want >=8, 8, 0, 0", pub, acked, rej, r.UnknownAcks())
		}
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

// (b) Without an ack an entry is published again after AckTimeout, under
// the same id, and stays queued; an ack then removes it.
func TestRepublishAfterAckTimeout(t *testing.T) {
	onBothBrokers(t, func(t *testing.T, addr string) {
		dock := newDock(t)
		box := newBox(t)
		col := newCollector(t, addr, dock, false)
		ids := put(t, box, dock, 3)
		cfg := testConfig(dock, addr)
		start := time.Now() // no publish can precede it
		r := startReporter(t, cfg, box, nil)
		eventually(t, 20*time.Second, "each entry delivered three times", func() bool {
			for _, id := range ids {
				if len(col.arrivals(id)) < 3 {
					return false
				}
			}
			return true
		})
		if n := box.Len(); n != 3 {
			t.Fatalf("outbox holds %d unacknowledged entries, want 3", n)
		}
		for _, id := range ids {
			// Each publish comes no sooner than AckTimeout after the
			// previous one, so the i-th arrival (from 0) is at least
			// i*AckTimeout after the start. (Gaps between arrivals prove
			// nothing: a delivery delayed by the broker arrives close to
			// the next publish, as happened under load.)
			for i, at := range col.arrivals(id) {
				if since := at.Sub(start); since < time.Duration(i)*cfg.AckTimeout {
					t.Errorf("%s arrival %d came %v after the start, before %d ack timeouts of %v", id, i, since, i, cfg.AckTimeout)
				}
			}
		}
		col.ack(ids...)
		eventually(t, 5*time.Second, "outbox drained after the late ack", func() bool { return box.Len() == 0 })
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

// (c) A broker restart that loses every session and subscription loses no
// report: the reporter reconnects, subscribes again, republishes, and
// everything is acked in the end.
func TestBrokerRestart(t *testing.T) {
	t.Parallel()
	b := startMochi(t, "127.0.0.1:0")
	dock := newDock(t)
	box := newBox(t)
	col := newCollector(t, b.addr, dock, true)
	first := put(t, box, dock, 5)
	r := startReporter(t, testConfig(dock, b.addr), box, nil)
	eventually(t, 5*time.Second, "first batch acked", func() bool { return box.Len() == 0 })

	// Entries published but not yet acked when the broker goes, and entries
	// put while it is away.
	col.setAutoAck(false)
	inFlight := put(t, box, dock, 3)
	r.Kick()
	eventually(t, 5*time.Second, "second batch delivered", func() bool {
		for _, id := range inFlight {
			if len(col.arrivals(id)) == 0 {
				return false
			}
		}
		return true
	})
	b.close()
	eventually(t, 5*time.Second, "reporter sees the broker gone", func() bool { return !r.Connected() })
	away := put(t, box, dock, 4)
	r.Kick()
	col.setAutoAck(true)
	b = b.restart()
	eventually(t, 10*time.Second, "everything acked after the restart", func() bool { return box.Len() == 0 })
	for _, id := range append(append(first, inFlight...), away...) {
		if len(col.arrivals(id)) == 0 {
			t.Errorf("%s never reached the collector", id)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// (d) A connection that dies without an MQTT DISCONNECT makes the broker
// publish the retained offline will; (f, in part) a clean stop publishes
// the same state itself.
func TestLastWill(t *testing.T) {
	onBothBrokers(t, func(t *testing.T, addr string) {
		dock := newDock(t)
		clearRetained(t, addr, wire.StateTopic(dock))
		box := newBox(t)
		col := newCollector(t, addr, dock, true)
		p := startProxy(t, addr)
		// The dock says it is online, through the outbox, retained.
		m, err := Encode("state-online-1", dock, time.Now(), wire.TypeDockState, wire.StateTopic(dock), true,
			&wire.DockState{State: wire.DockOnline, Slots: 4})
		if err != nil {
			t.Fatal(err)
		}
		if err := box.Put(m); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(dock, p.addr())
		var connects atomic.Int32
		cfg.OnConnect = func() { connects.Add(1) }
		r := startReporter(t, cfg, box, nil)
		eventually(t, 5*time.Second, "online state delivered", func() bool { return len(col.arrivals("state-online-1")) > 0 })
		if _, st, ok := retainedState(t, addr, dock); !ok || st.State != wire.DockOnline {
			t.Fatalf("retained state before the outage = %+v (present %v), want online", st, ok)
		}

		eventually(t, 5*time.Second, "online state acked", func() bool { return box.Len() == 0 })
		p.outage() // the dock drops off the network, and comes back
		eventually(t, 5*time.Second, "offline will delivered", func() bool { return len(col.offlineIDs()) == 1 })
		p.restore()
		e, st, ok := retainedState(t, addr, dock)
		if !ok || st.State != wire.DockOffline {
			t.Fatalf("retained state after the outage = %+v (present %v), want offline", st, ok)
		}
		if e.Dock != dock || e.Type != wire.TypeDockState {
			t.Errorf("will envelope = %+v", e)
		}

		// The second outage's will is a new report, not a redelivery of the
		// first one, which a collector would acknowledge and ignore.
		// A new connection, not Connected() alone: the broker may publish
		// the will before the reporter has even noticed the cut (paho
		// stops its workers first), and a kill then would leave it
		// nothing to reconnect to.
		eventually(t, 20*time.Second, "reconnected through the proxy", func() bool { return connects.Load() >= 2 && r.Connected() })
		p.kill()
		eventually(t, 5*time.Second, "second offline will delivered", func() bool { return len(col.offlineIDs()) == 2 })
		if ids := col.offlineIDs(); ids[0] == ids[1] {
			t.Errorf("both outages' wills have id %s", ids[0])
		}
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

// (f) A clean stop marks the dock offline (the broker sends no will after a
// DISCONNECT), Run returns nil, and the goroutines it started are gone.
func TestCleanStop(t *testing.T) {
	onBothBrokers(t, func(t *testing.T, addr string) {
		dock := newDock(t)
		clearRetained(t, addr, wire.StateTopic(dock))
		box := newBox(t)
		col := newCollector(t, addr, dock, true)
		put(t, box, dock, 2)
		r := startReporter(t, testConfig(dock, addr), box, nil)
		eventually(t, 5*time.Second, "reports acked", func() bool { return box.Len() == 0 })
		if err := r.stop(t); err != nil {
			t.Fatalf("Run returned %v on cancel, want nil", err)
		}
		if r.Connected() {
			t.Error("Connected after Run returned")
		}
		e, st, ok := retainedState(t, addr, dock)
		if !ok || st.State != wire.DockOffline {
			t.Fatalf("retained state after a clean stop = %+v (present %v), want offline", st, ok)
		}
		eventually(t, 5*time.Second, "collector sees the offline state "+e.ID, func() bool { return len(col.arrivals(e.ID)) > 0 })
	})
}

// Run joins what it starts: the goroutine count comes back to where it was.
func TestRunJoinsGoroutines(t *testing.T) {
	b := startMochi(t, "127.0.0.1:0") // not parallel: counts goroutines
	dock := newDock(t)
	box := newBox(t)
	col := newCollector(t, b.addr, dock, true)
	put(t, box, dock, 3)
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	r := New(testConfig(dock, b.addr), box, nil, testLog(t))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	eventually(t, 5*time.Second, "reports acked", func() bool { return box.Len() == 0 })
	col.command(wire.Command{Action: wire.CmdRefresh})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	// paho's Disconnect may let its last goroutines finish just after it
	// returns, and the broker's side of the connection closes asynchronously.
	eventually(t, 3*time.Second, "goroutines back to the count before Run", func() bool {
		return runtime.NumGoroutine() <= before
	})
	if err := r.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"bad dock", Config{Dock: "a/b", Broker: "tcp://127.0.0.1:1"}},
		{"no dock", Config{Broker: "tcp://127.0.0.1:1"}},
		{"no broker", Config{Dock: "d1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := New(tc.cfg, newBox(t), nil, nil).Run(context.Background())
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Run = %v, want ErrConfig", err)
			}
		})
	}
}

// After an outage the retained state is the will's offline; OnConnect lets
// the dock queue its current state so the broker holds online again.
func TestOnConnectRestoresOnline(t *testing.T) {
	t.Parallel()
	b := startMochi(t, "127.0.0.1:0")
	dock := newDock(t)
	box := newBox(t)
	col := newCollector(t, b.addr, dock, true)
	p := startProxy(t, b.addr)
	// n counts states queued, after the Put: counted before it, the
	// checks below could see n == 2 with an empty box before the second
	// state was queued at all (the retained state was then still the will).
	var seq, n atomic.Int32
	cfg := testConfig(dock, p.addr())
	cfg.OnConnect = func() {
		m, err := Encode(fmt.Sprintf("state-%d", seq.Add(1)), dock, time.Now(), wire.TypeDockState, wire.StateTopic(dock), true,
			&wire.DockState{State: wire.DockOnline})
		if err == nil {
			err = box.Put(m)
		}
		if err != nil {
			t.Error(err)
			return
		}
		n.Add(1)
	}
	r := startReporter(t, cfg, box, nil)
	eventually(t, 5*time.Second, "first online state acked", func() bool { return n.Load() == 1 && box.Len() == 0 })
	p.outage()
	eventually(t, 5*time.Second, "will delivered", func() bool { return len(col.offlineIDs()) == 1 })
	p.restore()
	eventually(t, 5*time.Second, "online state after reconnecting acked", func() bool { return n.Load() == 2 && box.Len() == 0 })
	if _, st, ok := retainedState(t, b.addr, dock); !ok || st.State != wire.DockOnline {
		t.Errorf("retained state after reconnecting = %+v (present %v), want online", st, ok)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// A negative acknowledgement: a report refused for good leaves the outbox
// (it is not sent again), is counted, and the others stay queued.
func TestRefusedLeavesOutbox(t *testing.T) {
	onBothBrokers(t, func(t *testing.T, addr string) {
		dock := newDock(t)
		box := newBox(t)
		col := newCollector(t, addr, dock, false)
		ids := put(t, box, dock, 3)
		r := startReporter(t, testConfig(dock, addr), box, nil)
		eventually(t, 5*time.Second, "every entry published", func() bool {
			for _, id := range ids {
				if len(col.arrivals(id)) == 0 {
					return false
				}
			}
			return true
		})
		e, err := wire.NewEnvelope("nack-1", dock, time.Now(), wire.TypeAck,
			&wire.Ack{IDs: []string{}, Refused: []wire.Refusal{{ID: ids[1], Reason: "schema: stop_cause"}}})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := e.Marshal()
		col.publish(wire.AckTopic(dock), p)
		eventually(t, 5*time.Second, "refused entry dropped", func() bool { return box.Len() == 2 })
		pending, err := box.Pending(10)
		if err != nil || len(pending) != 2 || pending[0].ID != ids[0] || pending[1].ID != ids[2] {
			t.Fatalf("pending %+v err %v", pending, err)
		}
		if r.Refused() != 1 {
			t.Errorf("refused %d, want 1", r.Refused())
		}
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}
