package ingest_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/cloud/ingest"
	"github.com/berthdock/berth/cloud/wire"
)

// reports is a mix of every report type a dock sends, on its proper topics.
func (d *simDock) reports(t testing.TB) []outMsg {
	t.Helper()
	out := []outMsg{
		d.encode(t, "state-1", wire.StateTopic(d.id), wire.TypeDockState, &wire.DockState{State: wire.DockOnline, Slots: 8,
			BufferCapacity: 1 << 40}),
		d.encode(t, "slot-3", wire.SlotTopic(d.id, 3), wire.TypeSlotState, &wire.SlotState{Slot: 3, State: wire.SlotCopying,
			Serial: "R-" + d.id}),
		d.encode(t, "health-1", wire.DeviceTopic(d.id, "R-"+d.id), wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "R-" + d.id,
			Firmware: "2.1", Slot: 3, DockedAt: t0, DockClock: t0, Battery: wire.Battery{Percent: 80, HealthPct: 90},
			Storage: wire.Storage{TotalBytes: 100, FreeBytes: 50}}),
	}
	var prev *wire.AuditRecord
	for i := range 3 {
		r := &wire.AuditRecord{Time: t0.Add(time.Duration(i) * time.Second), Action: wire.AuditCopied, Slot: 3,
			Serial: "R-" + d.id, Seq: uint64(i + 1)}
		if err := r.Seal(d.id, prev); err != nil {
			t.Fatal(err)
		}
		prev = r
		out = append(out, d.encode(t, "audit-"+strconv.Itoa(i), wire.AuditTopic(d.id), wire.TypeAuditRecord, r))
	}
	return append(out, d.manifests(t, 20)...)
}

// (a) Valid reports are committed and acknowledged; a redelivery is
// acknowledged again without a second write.
func TestCommitAndAck(t *testing.T) {
	for _, bn := range []string{"mosquitto", "embedded"} {
		for _, sn := range []string{"sqlite", "postgres"} {
			t.Run(bn+"/"+sn, func(t *testing.T) {
				t.Parallel()
				d := sqliteDB(t)
				if sn == "postgres" {
					d = pgDB(t)
				}
				st := d.open(t)
				e := env(t, bn, st)
				prefix := "ta" + randHex(4)
				docks := newDocks(t, st, prefix, 3)
				c := startCollector(t, e, st, "g-"+randHex(4), dockFilters(docks), nil)
				var all [][]outMsg
				total := 0
				for _, dk := range docks {
					dk.connect(t, e)
					msgs := dk.reports(t)
					all = append(all, msgs)
					total += len(msgs)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				send := func() {
					errs := make(chan error, len(docks))
					for i, dk := range docks {
						go func() { errs <- dk.send(ctx, all[i], 50, 5*time.Second, nil) }()
					}
					for range docks {
						if err := <-errs; err != nil {
							t.Fatal(err)
						}
					}
				}
				send()
				raw := d.raw(t)
				if n := d.count(t, raw, "messages", prefix); n != total {
					t.Fatalf("%d messages committed, want %d", n, total)
				}
				slots, err := st.Slots(ctx, docks[0].id)
				if err != nil || len(slots) != 1 || slots[0].State.State != wire.SlotCopying {
					t.Fatalf("slots %+v, %v", slots, err)
				}
				if got := c.metric(t, "berth_ingest_committed_total", "", ""); got != float64(total) {
					t.Fatalf("committed_total %v, want %d", got, total)
				}
				ackIDs := func() int {
					n := 0
					for _, dk := range docks {
						dk.mu.Lock()
						n += dk.ackIDs
						dk.mu.Unlock()
					}
					return n
				}
				before := ackIDs()

				// The docks did not see our acks (say) and send everything again.
				for _, dk := range docks {
					dk.mu.Lock()
					clear(dk.acked)
					dk.mu.Unlock()
				}
				send()
				waitFor(t, "second acks", 10*time.Second, func() bool { return ackIDs() >= before+total })
				if n := d.count(t, raw, "messages", prefix); n != total {
					t.Fatalf("after redelivery %d messages, want %d", n, total)
				}
				if got := c.metric(t, "berth_ingest_duplicates_total", "", ""); got != float64(total) {
					t.Fatalf("duplicates_total %v, want %d", got, total)
				}
				if got := c.metric(t, "berth_ingest_committed_total", "", ""); got != float64(total) {
					t.Fatalf("committed_total after redelivery %v, want %d", got, total)
				}
				for _, dk := range docks {
					if dk.badAcks != 0 {
						t.Errorf("dock %s got %d acks it could not decode", dk.id, dk.badAcks)
					}
				}
			})
		}
	}
}

// PublishCommand records the command and the dock receives it.
func TestPublishCommand(t *testing.T) {
	for _, bn := range []string{"mosquitto", "embedded"} {
		t.Run(bn, func(t *testing.T) {
			t.Parallel()
			d := sqliteDB(t)
			st := d.open(t)
			e := env(t, bn, st)
			docks := newDocks(t, st, "tc"+randHex(4), 1)
			c := startCollector(t, e, st, "g-"+randHex(4), dockFilters(docks), nil)
			dk := docks[0]
			dk.connect(t, e)
			got := make(chan *wire.Command, 1)
			tok := dk.client.Subscribe(wire.CmdTopic(dk.id), 1, func(_ paho.Client, m paho.Message) {
				env, err := wire.DecodeEnvelope(m.Payload())
				if err != nil {
					return
				}
				b, err := wire.DecodeBody(env)
				if err == nil && env.Dock == dk.id {
					got <- b.(*wire.Command)
				}
			})
			if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			id, err := c.in.PublishCommand(ctx, dk.id, wire.Command{Action: wire.CmdPowerCycle, Slot: 2, By: "custodian-1"})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case cmd := <-got:
				if cmd.Action != wire.CmdPowerCycle || cmd.Slot != 2 || cmd.By != "custodian-1" {
					t.Fatalf("dock got %+v", cmd)
				}
			case <-ctx.Done():
				t.Fatal("dock did not receive the command")
			}
			if n := d.count(t, d.raw(t), "commands", dk.id); n != 1 {
				t.Fatalf("%d commands recorded (id %s)", n, id)
			}
			if _, err := c.in.PublishCommand(ctx, dk.id, wire.Command{Action: "format-disk"}); err == nil {
				t.Fatal("invalid command published")
			}
			if got := c.metric(t, "berth_ingest_ignored_total", "", ""); got < 1 {
				// The collector sees its own cmd topic through the dock
				// subscription and skips it.
				waitFor(t, "own command skipped", 5*time.Second, func() bool {
					return c.metric(t, "berth_ingest_ignored_total", "", "") >= 1
				})
			}
		})
	}
}

// With ReportFilters the collector gets reports but not its own acks back.
func TestReportFilters(t *testing.T) {
	d := sqliteDB(t)
	st := d.open(t)
	e := embedded(t, st)
	docks := newDocks(t, st, "tr"+randHex(4), 1)
	c := startCollector(t, e, st, "g-"+randHex(4), ingest.ReportFilters(), nil)
	dk := docks[0]
	dk.connect(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dk.send(ctx, dk.reports(t), 50, 5*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // an echoed ack would have arrived
	if got := c.metric(t, "berth_ingest_ignored_total", "", ""); got != 0 {
		t.Fatalf("collector received %v of its own messages", got)
	}
}

var t0n = time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)

// A report refused for good is named in a negative ack with its reason, so
// the dock stops sending it; the good one beside it is acknowledged.
func TestNegativeAck(t *testing.T) {
	st := sqliteDB(t).open(t)
	e := env(t, "embedded", st)
	dk := newDocks(t, st, "tn"+randHex(4), 1)[0]
	startCollector(t, e, st, "g-"+randHex(4), dockFilters([]*simDock{dk}), nil)
	dk.connect(t, e)
	good := &wire.SegmentManifest{Serial: "R-1", Seq: 1, Start: t0n, End: t0n.Add(time.Minute), Size: 1, SHA256: strings.Repeat("ab", 32),
		StopCause: wire.StopUser, ClockSyncedAt: t0n, State: wire.SegBuffered}
	bad := *good
	bad.Seq, bad.StopCause = 2, "bored"
	for _, m := range []struct {
		id   string
		body *wire.SegmentManifest
	}{{"good-1", good}, {"bad-1", &bad}} {
		env, err := wire.NewEnvelope(m.id, dk.id, time.Now(), wire.TypeSegmentManifest, m.body)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := env.Marshal()
		if tok := dk.client.Publish(wire.SegmentsTopic(dk.id), 1, false, p); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	waitFor(t, "ack and negative ack", 10*time.Second, func() bool {
		dk.mu.Lock()
		defer dk.mu.Unlock()
		return dk.acked["good-1"] && dk.refused["bad-1"] != ""
	})
	dk.mu.Lock()
	defer dk.mu.Unlock()
	if why := dk.refused["bad-1"]; !strings.HasPrefix(why, ingest.ReasonSchema) || !strings.Contains(why, "stop_cause") || dk.acked["bad-1"] || dk.badAcks != 0 {
		t.Errorf("refusal %q, acked %v, bad acks %d", why, dk.acked["bad-1"], dk.badAcks)
	}
}
