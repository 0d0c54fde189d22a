package report

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// (e) A valid command reaches onCmd; malformed acks and commands are
// counted as rejected, never reach onCmd nor the outbox, and the reporter
// keeps working.
func TestCommandsAndRejects(t *testing.T) {
	onBothBrokers(t, func(t *testing.T, addr string) {
		dock := newDock(t)
		box := newBox(t)
		col := newCollector(t, addr, dock, false)
		var mu sync.Mutex
		var got []wire.Envelope
		var cmds []wire.Command
		onCmd := func(e wire.Envelope, c *wire.Command) {
			mu.Lock()
			got = append(got, e)
			cmds = append(cmds, *c)
			mu.Unlock()
		}
		ids := put(t, box, dock, 2)
		r := startReporter(t, testConfig(dock, addr), box, onCmd)
		eventually(t, 5*time.Second, "connected", r.Connected)

		id := col.command(wire.Command{Action: wire.CmdPowerCycle, Slot: 3, By: "custodian-7"})
		eventually(t, 5*time.Second, "command delivered", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(cmds) == 1
		})

		other, _ := wire.NewEnvelope("x-1", dock+"-other", time.Now(), wire.TypeCommand, &wire.Command{Action: wire.CmdRefresh})
		otherB, _ := other.Marshal()
		badAction, _ := wire.NewEnvelope("x-2", dock, time.Now(), wire.TypeCommand, &wire.Command{Action: "rm -rf"})
		badActionB, _ := badAction.Marshal()
		ackAsCmd, _ := wire.NewEnvelope("x-3", dock, time.Now(), wire.TypeAck, &wire.Ack{IDs: ids})
		ackAsCmdB, _ := ackAsCmd.Marshal()
		emptyAck, _ := wire.NewEnvelope("x-4", dock, time.Now(), wire.TypeAck, &wire.Ack{})
		emptyAckB, _ := emptyAck.Marshal()
		otherAck, _ := wire.NewEnvelope("x-5", dock+"-other", time.Now(), wire.TypeAck, &wire.Ack{IDs: ids})
		otherAckB, _ := otherAck.Marshal()
		bad := []struct {
			topic   string
			payload []byte
		}{
			{wire.CmdTopic(dock), []byte("not json")},
			{wire.CmdTopic(dock), []byte{}},
			{wire.CmdTopic(dock), otherB},     // another dock's command
			{wire.CmdTopic(dock), badActionB}, // unknown action
			{wire.CmdTopic(dock), ackAsCmdB},  // an ack on the command topic
			{wire.AckTopic(dock), []byte(`{"v":1,"id":"a","dock":"` + dock + `","time":"2026-01-01T00:00:00Z","type":"ack","body":{"ids":"x"}}`)},
			{wire.AckTopic(dock), []byte(`{"v":2}`)},
			{wire.AckTopic(dock), emptyAckB},
			{wire.AckTopic(dock), otherAckB}, // another dock's ack must not delete ours
		}
		for _, b := range bad {
			col.publish(b.topic, b.payload)
		}
		eventually(t, 5*time.Second, fmt.Sprintf("%d rejections counted", len(bad)), func() bool {
			_, _, rej := r.Stats()
			return rej == uint64(len(bad))
		})
		if n := box.Len(); n != 2 {
			t.Errorf("outbox holds %d entries after rejected acks, want 2", n)
		}
		mu.Lock()
		if len(cmds) != 1 || cmds[0] != (wire.Command{Action: wire.CmdPowerCycle, Slot: 3, By: "custodian-7"}) || got[0].ID != id || got[0].Dock != dock {
			t.Errorf("commands = %+v, envelopes %+v; want the one power-cycle %s", cmds, got, id)
		}
		mu.Unlock()

		// Still working: an ack for an id that is not ours is harmless, the
		// real ones drain the outbox, and the next command comes through.
		col.ack("never-put")
		eventually(t, 5*time.Second, "unknown ack counted", func() bool { return r.UnknownAcks() == 1 })
		col.ack(ids...)
		eventually(t, 5*time.Second, "outbox drained", func() bool { return box.Len() == 0 })
		col.command(wire.Command{Action: wire.CmdRefresh})
		eventually(t, 5*time.Second, "second command delivered", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(cmds) == 2 && cmds[1].Action == wire.CmdRefresh
		})
		if _, _, rej := r.Stats(); rej != uint64(len(bad)) {
			t.Errorf("rejected = %d, want %d", rej, len(bad))
		}
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

// Run does not return while onCmd is still running: the dock closes the
// outbox's database after Run, and onCmd writes to it.
func TestRunWaitsForCommandHandler(t *testing.T) {
	t.Parallel()
	b := startMochi(t, "127.0.0.1:0")
	dock := newDock(t)
	col := newCollector(t, b.addr, dock, false)
	entered, release := make(chan struct{}), make(chan struct{})
	r := startReporter(t, testConfig(dock, b.addr), newBox(t), func(wire.Envelope, *wire.Command) {
		close(entered)
		<-release
	})
	eventually(t, 5*time.Second, "connected", r.Connected)
	col.command(wire.Command{Action: wire.CmdRefresh})
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("command not delivered")
	}
	r.cancel()
	select {
	case err := <-r.done:
		t.Fatalf("Run returned (%v) while onCmd was running", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		r.once.Do(func() {}) // already stopped
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after onCmd did")
	}
}
