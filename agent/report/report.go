// Package report carries the dock's reports to the collector over MQTT and
// brings back the collector's acknowledgements and commands.
//
// Every report (dock and slot state, device health, segment manifests, audit
// records) is first made durable in the outbox; this package publishes what
// the outbox holds and deletes an entry only when the collector's
// application-level acknowledgement names its id on
// berth/v1/docks/{dock}/ack. A broker's PUBACK only says the broker has it,
// not that the collector committed it, so entries that see no ack within
// AckTimeout are published again with the same id, which the collector
// recognises and acknowledges without a second write.
//
// The paho client uses a stable client id, a persistent session (clean
// session off, so the ack and cmd subscriptions and their queued messages
// survive a reconnect), auto-reconnect, and a retained last will that marks
// the dock offline.
package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/agent/outbox"
	"github.com/berthdock/berth/cloud/wire"
)

// Outbox is the part of the persistent outbox the reporter uses.
type Outbox interface {
	Pending(limit int) ([]outbox.Message, error)
	Ack(ids ...string) error
}

// Config of a Reporter.
type Config struct {
	Dock     string
	Broker   string // e.g. tcp://127.0.0.1:1883 or ssl://collector:8883
	Username string // the dock id, for the broker's ACL
	Password string // the dock's token
	// AckTimeout: publish an entry again when no collector ack came.
	AckTimeout time.Duration
	// Poll: how often the outbox is looked at without a Kick.
	Poll time.Duration
	// Batch: at most this many entries in flight.
	Batch int
}

// Reporter publishes the outbox and handles acks and commands.
type Reporter struct {
	cfg   Config
	box   Outbox
	log   *slog.Logger
	onCmd func(wire.Envelope, *wire.Command)
	now   func() time.Time

	kick      chan struct{}
	connected atomic.Bool

	mu       sync.Mutex
	inflight map[string]time.Time // id -> last publish

	published, acked, rejected atomic.Uint64
}

// New makes a reporter. onCmd is called, from the MQTT client's goroutine,
// for each valid command from the collector.
func New(cfg Config, box Outbox, onCmd func(wire.Envelope, *wire.Command), log *slog.Logger) *Reporter {
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	return &Reporter{cfg: cfg, box: box, log: log, onCmd: onCmd, now: time.Now,
		kick: make(chan struct{}, 1), inflight: map[string]time.Time{}}
}

// Kick tells the reporter the outbox has something new.
func (r *Reporter) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Connected reports whether the MQTT connection is up.
func (r *Reporter) Connected() bool { return r.connected.Load() }

// Stats counts what was published, acknowledged and rejected.
func (r *Reporter) Stats() (published, acked, rejected uint64) {
	return r.published.Load(), r.acked.Load(), r.rejected.Load()
}

// lastWill is the retained offline state the broker publishes for us.
func (r *Reporter) lastWill() ([]byte, error) {
	e, err := wire.NewEnvelope(fmt.Sprintf("lwt-%d", r.now().UnixNano()), r.cfg.Dock, r.now(), wire.TypeDockState,
		&wire.DockState{State: wire.DockOffline})
	if err != nil {
		return nil, err
	}
	return e.Marshal()
}

// Run connects and publishes until ctx ends.
func (r *Reporter) Run(ctx context.Context) error {
	will, err := r.lastWill()
	if err != nil {
		return err
	}
	opts := paho.NewClientOptions().
		AddBroker(r.cfg.Broker).
		SetClientID("berth-dock-"+r.cfg.Dock).
		SetUsername(r.cfg.Username).SetPassword(r.cfg.Password).
		SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(30*time.Second).
		SetKeepAlive(30*time.Second).
		SetOrderMatters(false).
		SetBinaryWill(wire.StateTopic(r.cfg.Dock), will, 1, true)
	opts.SetOnConnectHandler(func(c paho.Client) {
		r.connected.Store(true)
		r.log.Info("mqtt connected", "broker", r.cfg.Broker)
		c.Subscribe(wire.AckTopic(r.cfg.Dock), 1, r.handleAck)
		c.Subscribe(wire.CmdTopic(r.cfg.Dock), 1, r.handleCmd)
		// Publish everything again: the collector may have missed it.
		r.mu.Lock()
		clear(r.inflight)
		r.mu.Unlock()
		r.Kick()
	})
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) {
		r.connected.Store(false)
		r.log.Warn("mqtt connection lost", "err", err)
	})
	client := paho.NewClient(opts)
	client.Connect() // with ConnectRetry the token completes only once connected; the loop below does not wait for it
	defer client.Disconnect(250)

	tick := time.NewTicker(r.cfg.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
		case <-tick.C:
		}
		if r.connected.Load() {
			r.publishPending(client)
		}
	}
}

func (r *Reporter) ack(ids []string) {
	if err := r.box.Ack(ids...); err != nil {
		r.log.Error("outbox ack failed", "err", err)
		return
	}
	r.mu.Lock()
	for _, id := range ids {
		delete(r.inflight, id)
	}
	r.mu.Unlock()
	r.acked.Add(uint64(len(ids)))
	r.Kick()
}

// publishPending publishes outbox entries not in flight, or in flight for
// longer than AckTimeout.
func (r *Reporter) publishPending(c paho.Client) {
	msgs, err := r.box.Pending(r.cfg.Batch)
	if err != nil {
		r.log.Error("outbox read failed", "err", err)
		return
	}
	now := r.now()
	for _, m := range msgs {
		r.mu.Lock()
		sent, ok := r.inflight[m.ID]
		due := !ok || now.Sub(sent) >= r.cfg.AckTimeout
		if due {
			r.inflight[m.ID] = now
		}
		r.mu.Unlock()
		if !due {
			continue
		}
		c.Publish(m.Topic, 1, m.Retained, m.Payload) // paho queues it; a lost one is retried after AckTimeout
		r.published.Add(1)
	}
}

func (r *Reporter) decode(m paho.Message, want string) (wire.Envelope, wire.Body, error) {
	e, err := wire.DecodeEnvelope(m.Payload())
	if err != nil {
		return e, nil, err
	}
	if e.Dock != r.cfg.Dock || e.Type != want {
		return e, nil, fmt.Errorf("%w: %s for dock %q on %s", errUnexpected, e.Type, e.Dock, m.Topic())
	}
	b, err := wire.DecodeBody(e)
	return e, b, err
}

var errUnexpected = errors.New("report: unexpected message")

func (r *Reporter) handleAck(_ paho.Client, m paho.Message) {
	_, b, err := r.decode(m, wire.TypeAck)
	if err != nil {
		r.rejected.Add(1)
		r.log.Warn("ack rejected", "err", err)
		return
	}
	r.ack(b.(*wire.Ack).IDs)
}

func (r *Reporter) handleCmd(_ paho.Client, m paho.Message) {
	e, b, err := r.decode(m, wire.TypeCommand)
	if err != nil {
		r.rejected.Add(1)
		r.log.Warn("command rejected", "err", err)
		return
	}
	if r.onCmd != nil {
		r.onCmd(e, b.(*wire.Command))
	}
}

// Encode wraps a body in an envelope as an outbox message for its topic.
func Encode(id, dock string, at time.Time, typ, topic string, retained bool, body any) (outbox.Message, error) {
	e, err := wire.NewEnvelope(id, dock, at, typ, body)
	if err != nil {
		return outbox.Message{}, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return outbox.Message{}, fmt.Errorf("report: encode: %w", err)
	}
	return outbox.Message{ID: id, Topic: topic, Payload: b, Retained: retained, QoS: 1}, nil
}
