package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/cloud/ingest"
	"github.com/berthdock/berth/cloud/wire"
)

// (b) Hostile, malformed, oversize and mismatched messages are each
// rejected with their counted reason, never acknowledged to the dock, and
// the collector keeps committing what is valid.
func TestHostileRejected(t *testing.T) {
	for _, bn := range []string{"mosquitto", "embedded"} {
		t.Run(bn, func(t *testing.T) {
			t.Parallel()
			d := sqliteDB(t)
			st := d.open(t)
			e := env(t, bn, st)
			prefix := "th" + randHex(4)
			docks := newDocks(t, st, prefix, 2)
			a, b := docks[0], docks[1]
			stranger := &simDock{id: prefix + "-stranger"} // never enrolled
			filters := append(dockFilters(docks), wire.DockTopic(stranger.id, "#"))
			c := startCollector(t, e, st, "g-"+randHex(4), filters, nil)
			for _, dk := range docks {
				dk.connect(t, e)
			}

			// The injector has the collector's rights on the embedded broker
			// (a dock could not even publish most of these: broker ACL) and
			// is anonymous on Mosquitto.
			o := paho.NewClientOptions().AddBroker(e.url).SetClientID("inject-" + randHex(4)).
				SetUsername(e.collUser).SetPassword(e.collPass)
			inj := paho.NewClient(o)
			if tok := inj.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
			t.Cleanup(func() { inj.Disconnect(100) })

			slot := func(dk *simDock, id string, n int, detail string) []byte {
				return dk.encode(t, id, "", wire.TypeSlotState, &wire.SlotState{Slot: n, State: wire.SlotEmpty, Detail: detail}).payload
			}
			valid := string(slot(a, "ok-0", 1, ""))
			cases := []struct {
				name, topic, payload, reason string
			}{
				{"not json", wire.SlotTopic(a.id, 1), "{not json", ingest.ReasonMalformedJSON},
				{"binary", wire.SlotTopic(a.id, 1), "\x00\xff\xfe garbage", ingest.ReasonMalformedJSON},
				{"empty", wire.SlotTopic(a.id, 1), "", ingest.ReasonMalformedJSON},
				{"truncated", wire.SlotTopic(a.id, 1), valid[:len(valid)/2], ingest.ReasonMalformedJSON},
				{"version 2", wire.SlotTopic(a.id, 1), strings.Replace(valid, `"v":1`, `"v":2`, 1), ingest.ReasonVersion},
				{"unknown type", wire.SlotTopic(a.id, 1), strings.Replace(valid, `"slot.state"`, `"slot.exploded"`, 1), ingest.ReasonUnknownType},
				{"schema: bad state", wire.SlotTopic(a.id, 1), strings.Replace(valid, `"empty"`, `"on fire"`, 1), ingest.ReasonSchema},
				{"schema: extra field", wire.SlotTopic(a.id, 1), strings.Replace(valid, `"slot":1`, `"slot":1,"rm":"-rf"`, 1), ingest.ReasonSchema},
				{"schema: array", wire.SlotTopic(a.id, 1), `[1,2,3]`, ingest.ReasonSchema},
				{"schema: deep nesting", wire.SlotTopic(a.id, 1), strings.Repeat("[", 5000) + strings.Repeat("]", 5000), ingest.ReasonSchema},
				{"schema: v string", wire.SlotTopic(a.id, 1), strings.Replace(valid, `"v":1`, `"v":"1"`, 1), ingest.ReasonSchema},
				{"oversize", wire.SlotTopic(a.id, 1), `{"v":1,"pad":"` + strings.Repeat("x", wire.MaxPayload) + `"}`, ingest.ReasonOversize},
				{"dock mismatch", wire.SlotTopic(a.id, 1), string(slot(b, "spoof-1", 1, "")), ingest.ReasonDockMismatch},
				{"slot mismatch", wire.SlotTopic(a.id, 2), valid, ingest.ReasonTopicMismatch},
				{"type on wrong topic", wire.StateTopic(a.id), valid, ingest.ReasonTopicMismatch},
				{"bad topic kind", wire.DockTopic(a.id, "garbage"), valid, ingest.ReasonBadTopic},
				{"bad topic depth", wire.DockTopic(a.id, "slots", "1", "x"), valid, ingest.ReasonBadTopic},
				{"bad slot element", wire.DockTopic(a.id, "slots", "..."), valid, ingest.ReasonTopicMismatch},
				{"not enrolled", wire.SlotTopic(stranger.id, 1), string(slot(stranger, "s-1", 1, "")), ingest.ReasonNotEnrolled},
				{"invalid body (cross-field)", wire.DeviceTopic(a.id, "R1"), string(a.encode(t, "h-bad", "", wire.TypeDeviceHealth,
					&wire.DeviceHealth{Serial: "R1", DockedAt: t0, DockClock: t0, Storage: wire.Storage{TotalBytes: 1, FreeBytes: 2}}).payload),
					ingest.ReasonInvalid},
				{"store refuses NUL text", wire.SlotTopic(a.id, 1), string(slot(a, "nul-1", 1, "a\x00b")), ingest.ReasonStoreRefused},
			}
			want := map[string]float64{}
			for _, tc := range cases {
				want[tc.reason]++
				tok := inj.Publish(tc.topic, 1, false, []byte(tc.payload))
				if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("%s: publish: %v", tc.name, tok.Error())
				}
			}
			sum := func() float64 {
				var n float64
				for _, r := range ingest.Reasons {
					n += c.metric(t, "berth_ingest_rejected_total", "reason", r)
				}
				return n
			}
			waitFor(t, "every rejection counted", 10*time.Second, func() bool { return sum() >= float64(len(cases)) })
			for _, r := range ingest.Reasons {
				if got := c.metric(t, "berth_ingest_rejected_total", "reason", r); got != want[r] {
					t.Errorf("rejected{reason=%q} = %v, want %v", r, got, want[r])
				}
			}
			if s := sum(); s != float64(len(cases)) {
				t.Errorf("%v rejections for %d hostile messages", s, len(cases))
			}
			if !strings.Contains(c.logs.String(), "message rejected") {
				t.Error("rejections not logged")
			}

			// The collector still works: a valid report is committed and
			// acknowledged; nothing hostile was acknowledged or written.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.send(ctx, []outMsg{{id: "ok-0", topic: wire.SlotTopic(a.id, 1), payload: []byte(valid)}}, 1, time.Second, nil); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"spoof-1", "nul-1", "h-bad", "m-1"} {
				if a.isAcked(id) || b.isAcked(id) {
					t.Errorf("hostile message %s acknowledged", id)
				}
			}
			if n := d.count(t, d.raw(t), "messages", prefix); n != 1 {
				t.Errorf("%d messages committed, want only the valid one", n)
			}
		})
	}
}
