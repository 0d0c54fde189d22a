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
// survive a reconnect), auto-reconnect, and a retained last will on
// berth/v1/docks/{dock}/state that marks the dock offline. The will gets a
// fresh envelope id at every (re)connection, so a collector that commits a
// (dock, id) once still sees the second and later outages. On a clean stop
// (ctx ended) the broker would not publish the will, so Run publishes the
// same retained offline state itself before disconnecting.
//
// The subscriptions are made again in every OnConnect (a broker that lost its
// sessions, e.g. restarted without persistence, has forgotten them), and
// inbound messages are routed by a default handler installed before the first
// connection, so messages the broker queued for the session are not dropped
// while the subscriptions are being renewed. Inbound messages are
// acknowledged to the broker only after they were handled; one that arrives
// while Run is stopping is left unacknowledged for the broker to redeliver.
package report

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jonboulle/clockwork"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/time/rate"

	"github.com/berthdock/berth/agent/outbox"
	"github.com/berthdock/berth/cloud/wire"
)

// Outbox is the part of the persistent outbox the reporter uses.
type Outbox interface {
	Pending(limit int) ([]outbox.Message, error)
	Ack(ids ...string) error
}

// Config of a Reporter. Zero durations take the defaults named below.
type Config struct {
	Dock     string
	Broker   string // e.g. tcp://127.0.0.1:1883 or ssl://collector:8883
	Username string // the dock id, for the broker's ACL
	Password string // the dock's token
	// TLS for ssl:// and tls:// brokers; nil uses paho's default.
	TLS *tls.Config
	// AckTimeout: publish an entry again when no collector ack came (30 s).
	AckTimeout time.Duration
	// Poll: how often the outbox is looked at without a Kick (1 s).
	Poll time.Duration
	// Batch: at most this many entries in flight (256).
	Batch int
	// ReconnectMax caps the backoff between connection attempts (30 s).
	ReconnectMax time.Duration
	// KeepAlive of the MQTT connection (30 s); the broker publishes the
	// last will about 1.5 keep-alives after the dock falls silent.
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt (10 s).
	ConnectTimeout time.Duration
	// Clock stamps message times, times acks out and waits (nil: the real
	// clock).
	Clock clockwork.Clock
	// OnConnect, if set, is called after every connection once the
	// subscriptions are renewed, before the outbox is published again. The
	// broker may hold the retained offline will by then, so the dock queues
	// its current state here; Run joins the call.
	OnConnect func()
}

// Errors.
var (
	ErrConfig  = errors.New("report: bad config")
	ErrRunning = errors.New("report: Run called twice")
)

// Reporter publishes the outbox and handles acks and commands.
type Reporter struct {
	cfg   Config
	box   Outbox
	log   *slog.Logger
	onCmd func(wire.Envelope, *wire.Command)

	kick      chan struct{}
	connected atomic.Bool
	running   atomic.Bool
	gate      gate // admits paho's callbacks while Run runs; Run joins them

	mu       sync.Mutex
	inflight map[string]sent     // id -> last publish
	gone     map[string]struct{} // ids acked since publishPending read the outbox

	published, acked, rejected, unknownAcks atomic.Uint64
	refused                                 atomic.Uint64 // reports the collector refused for good
	rejectLog, readLog                      rate.Sometimes
}

// New makes a reporter. onCmd is called, from a goroutine of the MQTT
// client that Run joins before it returns, for each valid command from the
// collector; it should not block for long.
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
	if cfg.ReconnectMax <= 0 {
		cfg.ReconnectMax = 30 * time.Second
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reporter{cfg: cfg, box: box, log: log, onCmd: onCmd,
		kick: make(chan struct{}, 1), inflight: map[string]sent{}, gone: map[string]struct{}{},
		rejectLog: rate.Sometimes{First: 5, Interval: 10 * time.Second},
		readLog:   rate.Sometimes{First: 3, Interval: time.Minute}}
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

// Stats counts what was published, acknowledged and rejected. acked counts
// ids that were in flight when their ack came; see UnknownAcks for the rest.
func (r *Reporter) Stats() (published, acked, rejected uint64) {
	return r.published.Load(), r.acked.Load(), r.rejected.Load()
}

// Refused counts the reports the collector refused for good (negative
// acknowledgements): dropped from the outbox, not sent again.
func (r *Reporter) Refused() uint64 { return r.refused.Load() }

// UnknownAcks counts acknowledged ids that were not in flight: redelivered
// acks, or acks for entries published by an earlier run. They are passed to
// the outbox all the same, which ignores ids it does not hold.
func (r *Reporter) UnknownAcks() uint64 { return r.unknownAcks.Load() }

// offline is the retained offline state: the last will, and what Run
// publishes on a clean stop.
func (r *Reporter) offline() ([]byte, error) {
	now := r.cfg.Clock.Now()
	e, err := wire.NewEnvelope(fmt.Sprintf("offline-%d", now.UnixNano()), r.cfg.Dock, now, wire.TypeDockState,
		&wire.DockState{State: wire.DockOffline})
	if err != nil {
		return nil, err
	}
	return e.Marshal()
}

func (r *Reporter) options() (*paho.ClientOptions, error) {
	will, err := r.offline()
	if err != nil {
		return nil, err
	}
	opts := paho.NewClientOptions().
		AddBroker(r.cfg.Broker).
		SetClientID(wire.DockClientID(r.cfg.Dock)).
		SetUsername(r.cfg.Username).SetPassword(r.cfg.Password).
		SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(r.cfg.ReconnectMax).
		SetConnectTimeout(r.cfg.ConnectTimeout).
		SetKeepAlive(r.cfg.KeepAlive).
		SetWriteTimeout(r.cfg.ConnectTimeout).
		SetOrderMatters(false).
		SetAutoAckDisabled(true).
		SetStore(newCopyStore()).
		SetBinaryWill(wire.StateTopic(r.cfg.Dock), will, 1, true).
		SetDefaultPublishHandler(r.route).
		SetOnConnectHandler(r.onConnect).
		SetConnectionLostHandler(func(c paho.Client, err error) {
			// paho runs this handler and its reconnect concurrently: when
			// the new connection's onConnect came first, the flag is its.
			r.mu.Lock()
			r.connected.Store(c.IsConnectionOpen())
			r.mu.Unlock()
			r.log.Warn("mqtt connection lost", "err", err)
		}).
		SetReconnectingHandler(func(_ paho.Client, o *paho.ClientOptions) {
			// The previous will may have been published already; a new id
			// makes the next outage a new report, not a duplicate.
			if w, err := r.offline(); err == nil {
				o.WillPayload = w
			}
			r.log.Info("mqtt reconnecting", "broker", r.cfg.Broker)
		})
	if r.cfg.TLS != nil {
		opts.SetTLSConfig(r.cfg.TLS)
	}
	return opts, nil
}

// onConnect renews the subscriptions (the broker may have lost the session)
// and publishes everything pending again: the collector may have missed it.
func (r *Reporter) onConnect(c paho.Client) {
	if !r.gate.enter() {
		return
	}
	defer r.gate.leave()
	r.log.Info("mqtt connected", "broker", r.cfg.Broker)
	t := c.SubscribeMultiple(map[string]byte{wire.AckTopic(r.cfg.Dock): 1, wire.CmdTopic(r.cfg.Dock): 1}, nil)
	if !t.WaitTimeout(r.cfg.ConnectTimeout) {
		r.log.Error("mqtt subscribe timed out; acks and commands may not arrive until the next connection")
	} else if err := t.Error(); err != nil {
		r.log.Error("mqtt subscribe failed; acks and commands may not arrive until the next connection", "err", err)
	} else if st, ok := t.(*paho.SubscribeToken); ok {
		for topic, qos := range st.Result() {
			if qos > 2 { // 0x80: refused, typically by the broker's ACL
				r.log.Error("mqtt subscription refused", "topic", topic, "code", qos)
			}
		}
	}
	if r.cfg.OnConnect != nil {
		r.cfg.OnConnect()
	}
	r.mu.Lock()
	clear(r.inflight)
	r.connected.Store(c.IsConnectionOpen()) // under mu: ordered with the connection-lost handler
	r.mu.Unlock()
	r.Kick()
}

// Run connects and publishes until ctx ends, then marks the dock offline,
// disconnects and waits for its callbacks to finish. It returns nil when ctx
// ends, an error only for a bad configuration. Run may be called once.
func (r *Reporter) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	if err := wire.ValidID(r.cfg.Dock); err != nil {
		return fmt.Errorf("%w: dock: %w", ErrConfig, err)
	}
	if r.cfg.Broker == "" {
		return fmt.Errorf("%w: no broker", ErrConfig)
	}
	opts, err := r.options()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	client := paho.NewClient(opts)
	defer r.stop(client)
	if !r.connect(ctx, client) {
		return nil
	}

	tick := r.cfg.Clock.NewTicker(r.cfg.Poll)
	defer tick.Stop()
	for {
		if r.connected.Load() {
			r.publishPending(ctx, client)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
		case <-tick.Chan():
		}
	}
}

// connect makes the first connection, retrying with jittered backoff; paho's
// auto-reconnect takes over after that. It returns false if ctx ended first.
func (r *Reporter) connect(ctx context.Context, c paho.Client) bool {
	bo := &backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: r.cfg.ReconnectMax}
	bo.Reset()
	for attempt := 1; ; attempt++ {
		t := c.Connect()
		select {
		case <-t.Done():
		case <-ctx.Done():
			return false
		}
		if t.Error() == nil {
			return true
		}
		if attempt <= 3 || attempt%20 == 0 {
			r.log.Warn("mqtt connect failed", "broker", r.cfg.Broker, "attempt", attempt, "err", t.Error())
		}
		select {
		case <-r.cfg.Clock.After(bo.NextBackOff()):
		case <-ctx.Done():
			return false
		}
	}
}

// stop publishes the offline state if connected, disconnects, and joins the
// callbacks. A command or ack arriving after this point is not acknowledged
// to the broker, which redelivers it in the next session.
func (r *Reporter) stop(c paho.Client) {
	if c.IsConnectionOpen() {
		if p, err := r.offline(); err == nil {
			t := c.Publish(wire.StateTopic(r.cfg.Dock), 1, true, p)
			if !t.WaitTimeout(time.Second) || t.Error() != nil {
				r.log.Warn("offline state not confirmed by the broker", "err", t.Error())
			}
		}
	}
	c.Disconnect(250)
	r.connected.Store(false)
	r.gate.close()
}

// gate admits callbacks until closed; close waits for those admitted.
type gate struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *gate) leave() { g.wg.Done() }

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}
