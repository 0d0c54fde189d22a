package report

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/outbox"
	"github.com/berthdock/berth/cloud/wire"
)

// memBox is an Outbox that records acks.
type memBox struct {
	mu    sync.Mutex
	acked []string
}

func (b *memBox) Pending(int) ([]outbox.Message, error) { return nil, nil }
func (b *memBox) Ack(ids ...string) error {
	b.mu.Lock()
	b.acked = append(b.acked, ids...)
	b.mu.Unlock()
	return nil
}

// fakeMsg is an inbound MQTT message.
type fakeMsg struct {
	topic   string
	payload []byte
	acked   bool
}

func (m *fakeMsg) Duplicate() bool   { return false }
func (m *fakeMsg) Qos() byte         { return 1 }
func (m *fakeMsg) Retained() bool    { return false }
func (m *fakeMsg) Topic() string     { return m.topic }
func (m *fakeMsg) MessageID() uint16 { return 1 }
func (m *fakeMsg) Payload() []byte   { return m.payload }
func (m *fakeMsg) Ack()              { m.acked = true }

// FuzzInbound feeds hostile payloads to the ack and command handlers: no
// panic, every message is either acted on or counted as rejected, and only a
// valid ack for this dock reaches the outbox.
func FuzzInbound(f *testing.F) {
	const dock = "dock-1"
	for _, typ := range []string{wire.TypeAck, wire.TypeCommand} {
		var body any = &wire.Ack{IDs: []string{"a", "b"}}
		if typ == wire.TypeCommand {
			body = &wire.Command{Action: wire.CmdPowerCycle, Slot: 2, By: "u"}
		}
		e, _ := wire.NewEnvelope("m-1", dock, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), typ, body)
		p, _ := e.Marshal()
		f.Add(typ == wire.TypeAck, p)
		f.Add(typ != wire.TypeAck, p)
	}
	f.Add(true, []byte(`{"v":1,"id":"x","dock":"dock-1","time":"2026-01-01T00:00:00Z","type":"ack","body":{"ids":[]}}`))
	f.Add(false, []byte(`{"v":1,"id":"x","dock":"dock-2","time":"2026-01-01T00:00:00Z","type":"cmd","body":{"action":"refresh"}}`))
	f.Add(true, []byte("\x00\xff{"))
	f.Fuzz(func(t *testing.T, onAck bool, payload []byte) {
		box := &memBox{}
		cmds := 0
		r := New(Config{Dock: dock, Broker: "tcp://127.0.0.1:1"}, box, func(e wire.Envelope, c *wire.Command) {
			if e.Dock != dock || c.Validate() != nil {
				t.Errorf("onCmd got %+v %+v", e, c)
			}
			cmds++
		}, nil)
		topic := wire.CmdTopic(dock)
		if onAck {
			topic = wire.AckTopic(dock)
		}
		m := &fakeMsg{topic: topic, payload: bytes.Clone(payload)}
		r.route(nil, m)
		if !m.acked {
			t.Error("message not acknowledged to the broker")
		}
		_, _, rej := r.Stats()
		acted := len(box.acked) > 0 || cmds > 0
		if acted == (rej == 1) || rej > 1 {
			t.Errorf("acted %v, rejected %d", acted, rej)
		}
		if len(box.acked) > 0 {
			e, err := wire.DecodeEnvelope(payload)
			if err != nil || e.Dock != dock || e.Type != wire.TypeAck {
				t.Errorf("outbox acked %v from %q (%v)", box.acked, payload, err)
			}
			b, err := wire.DecodeBody(e)
			if err != nil || !slices.Equal(b.(*wire.Ack).IDs, box.acked) {
				t.Errorf("outbox acked %v, body %v (%v)", box.acked, b, err)
			}
		}
	})
}
