package ingest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// Store is what ingest needs of the collector's store (*store.Store).
type Store interface {
	Commit(ctx context.Context, msgs []store.Incoming) (dup []bool, err error)
	DockEnrolled(ctx context.Context, id string) (bool, error)
}

// Config of an Ingest. Broker, ClientID and Group are required; zero values
// of the others mean the defaults documented on each.
type Config struct {
	Broker string // tcp://host:1883, ssl://host:8883, ws://...
	// ClientID is unique per collector instance (a broker drops the older
	// of two equal ids). A broker that makes a certificate's CN the client
	// id (use_username_as_clientid) gives every connection of one
	// certificate the same id: there, Conns must be 1.
	ClientID string
	Username string // the collector's broker credentials
	Password string
	TLS      *tls.Config // for ssl:// brokers; nil: system defaults

	// Group is the shared subscription group every collector of a
	// deployment joins ($share/{Group}/...). Empty: a plain subscription
	// (one collector, or a broker without shared subscriptions).
	Group string
	// Filters are the topic filters subscribed, inside the share group.
	// Default: wire.DockSubscription() (berth/v1/docks/+/#). Tests and
	// sharded deployments narrow it to some docks.
	Filters []string
	// Conns is the number of MQTT connections joined to the group (default
	// 1); each adds a broker in-flight window (see the package doc).
	Conns int

	MaxBatch      int           // messages per commit (default 500)
	FlushInterval time.Duration // longest a message waits for its batch to fill (default 10ms)
	Committers    int           // concurrent commits (default 2)

	// EnrolledTTL is how long an enrolled dock is remembered (default 1m);
	// a dock found not enrolled is asked about again after NotEnrolledTTL
	// (default 5s).
	EnrolledTTL, NotEnrolledTTL time.Duration
	// ShutdownTimeout bounds finishing in-flight commits and acks after ctx
	// ends (default 10s).
	ShutdownTimeout time.Duration
	// ConnectTimeout bounds the first connection (default 30s).
	ConnectTimeout time.Duration
	Clock          clockwork.Clock // the enrolment cache's time and every wait; default: the real clock
}

// Errors of an Ingest.
var (
	ErrConfig       = errors.New("ingest: bad config")
	ErrNotConnected = errors.New("ingest: not connected to the broker")
)

// Ingest subscribes, validates, commits and acknowledges. Make it with New
// and run it with Run, once.
type Ingest struct {
	cfg   Config
	st    Store
	log   *slog.Logger
	m     *metrics
	dec   *Decoder
	clock clockwork.Clock

	instance string        // random, names ack envelopes
	ackSeq   atomic.Uint64 // ack envelope counter

	conns []*conn

	incoming chan pending
	work     chan paho.Message // handlers hand messages to the decode workers
	ackq     chan ackJob       // committers hand the docks' acks to ackLoop
	stopping chan struct{}     // closed when Run's ctx ends: handlers stop queueing
	hmu      sync.RWMutex      // handlers hold it for reading; Run takes it to close the queue

	emu      sync.Mutex
	enrolled map[string]enrolment

	// held maps each (dock, id) queued or being committed to the copies
	// of it that arrived meanwhile (a dock sending again while we are
	// slow): they are PUBACKed with the first copy's commit instead of
	// queueing for a second, duplicate commit.
	pmu  sync.Mutex
	held map[heldKey][]paho.Message

	bg sync.WaitGroup // subscribe goroutines

	ready      chan struct{} // closed once every connection has subscribed
	readyOnce  sync.Once
	subscribed atomic.Int32

	logLimit *rate.Limiter
	dropped  atomic.Uint64 // rejections not logged because of the limit
	running  atomic.Bool
}

type heldKey struct{ dock, id string }

type enrolment struct {
	ok      bool
	expires time.Time
}

// conn is one MQTT connection of the group.
type conn struct {
	id             string
	client         paho.Client
	connected      atomic.Bool
	everSubscribed atomic.Bool
}

// pending is a decoded message waiting for its commit; msg is PUBACKed
// after it.
type pending struct {
	inc store.Incoming
	msg paho.Message
}

// New checks cfg and builds an Ingest; it registers its metrics on reg (nil:
// not registered) and connects nothing until Run.
func New(cfg Config, st Store, log *slog.Logger, reg prometheus.Registerer) (*Ingest, error) {
	if cfg.Broker == "" || cfg.ClientID == "" {
		return nil, fmt.Errorf("%w: broker and client id are required", ErrConfig)
	}
	if st == nil {
		return nil, fmt.Errorf("%w: no store", ErrConfig)
	}
	if log == nil {
		log = slog.Default()
	}
	if len(cfg.Filters) == 0 {
		cfg.Filters = []string{wire.DockSubscription()}
	}
	cfg.Conns = max(cfg.Conns, 1)
	cfg.Committers = max(cfg.Committers, 1)
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 500
	}
	cfg.MaxBatch = min(cfg.MaxBatch, 10000) // one ack names at most 10,000 ids (wire.Ack)
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.FlushInterval, 10*time.Millisecond)
	def(&cfg.EnrolledTTL, time.Minute)
	def(&cfg.NotEnrolledTTL, 5*time.Second)
	def(&cfg.ShutdownTimeout, 10*time.Second)
	def(&cfg.ConnectTimeout, 30*time.Second)
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	dec, err := NewDecoder()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("ingest: random: %w", err)
	}
	in := &Ingest{cfg: cfg, st: st, log: log, m: m, dec: dec, clock: cfg.Clock, instance: hex.EncodeToString(rnd[:]),
		incoming: make(chan pending, cfg.MaxBatch*cfg.Committers), stopping: make(chan struct{}),
		enrolled: map[string]enrolment{}, held: map[heldKey][]paho.Message{}, ready: make(chan struct{}),
		work: make(chan paho.Message, cfg.MaxBatch), ackq: make(chan ackJob, 2*cfg.Committers), logLimit: rate.NewLimiter(rate.Every(time.Second), 20)}
	for i := range cfg.Conns {
		id := cfg.ClientID
		if cfg.Conns > 1 {
			id = fmt.Sprintf("%s-%d", cfg.ClientID, i)
		}
		in.conns = append(in.conns, in.newConn(id))
	}
	return in, nil
}

func (in *Ingest) newConn(id string) *conn {
	c := &conn{id: id}
	o := paho.NewClientOptions().AddBroker(in.cfg.Broker).SetClientID(id).
		SetUsername(in.cfg.Username).SetPassword(in.cfg.Password).
		SetCleanSession(true).    // see the package doc
		SetAutoAckDisabled(true). // PUBACK only after commit
		SetOrderMatters(false).   // handlers run concurrently; a full queue blocks one, not the client
		SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(30 * time.Second).
		SetKeepAlive(30 * time.Second).SetWriteTimeout(10 * time.Second).
		// Every message goes to one handler: subscribing with a nil
		// callback spares paho matching each message against every filter.
		SetDefaultPublishHandler(in.handle)
	if in.cfg.TLS != nil {
		o.SetTLSConfig(in.cfg.TLS)
	}
	if open := bufferedTCP(in.cfg.Broker); open != nil {
		o.SetCustomOpenConnectionFn(open)
	}
	log := in.log.With("mqtt_client", id)
	o.SetOnConnectHandler(func(cl paho.Client) {
		c.connected.Store(true)
		// Clean session: the subscription is made again on every connect.
		filters := map[string]byte{}
		for _, f := range in.cfg.Filters {
			if in.cfg.Group != "" {
				f = "$share/" + in.cfg.Group + "/" + f
			}
			filters[f] = 1
		}
		in.bg.Go(func() { in.subscribe(cl, c, filters, log) }) // waiting in this handler would stall paho's connect path
	})
	o.SetConnectionLostHandler(func(_ paho.Client, err error) {
		c.connected.Store(false)
		in.m.connLost.Inc()
		log.Warn("mqtt connection lost", "err", err)
	})
	o.SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) { c.connected.Store(false) })
	c.client = paho.NewClient(o)
	return c
}

// Run connects, consumes and commits until ctx ends; then it stops taking
// messages, finishes the commits and acks of what it holds (within
// ShutdownTimeout), disconnects and returns nil. It returns an error only
// when the first connection cannot be made within ConnectTimeout.
func (in *Ingest) Run(ctx context.Context) error {
	if !in.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Run called twice", ErrConfig)
	}
	for _, c := range in.conns {
		tok := c.client.Connect() // with ConnectRetry it completes once connected
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				in.disconnectAll()
				return fmt.Errorf("ingest: connect %s: %w", in.cfg.Broker, err)
			}
		case <-in.clock.After(in.cfg.ConnectTimeout):
			in.disconnectAll()
			return fmt.Errorf("ingest: connect %s: %w: no connection within %s", in.cfg.Broker, ErrNotConnected, in.cfg.ConnectTimeout)
		case <-ctx.Done():
			in.disconnectAll()
			return nil
		}
	}
	in.log.Info("ingest running", "broker", in.cfg.Broker, "group", in.cfg.Group, "conns", len(in.conns),
		"committers", in.cfg.Committers, "max_batch", in.cfg.MaxBatch)

	var wg, workers, acker sync.WaitGroup
	acker.Go(in.ackLoop)
	for range in.cfg.Committers {
		wg.Go(func() { in.commitLoop(ctx) })
	}
	// Decoding runs on GOMAXPROCS long-lived workers rather than on
	// paho's goroutine per message: a broker may push thousands of
	// messages at once (mochi sets no in-flight limit for MQTT 3.1.1
	// clients), and decoding them all at once would starve the committers
	// and the network goroutines; and a fresh goroutine grows its stack
	// for every decode (runtime.copystack was 8 % of the collector's CPU).
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for msg := range in.work {
				in.process(msg)
			}
		})
	}
	<-ctx.Done()
	// Stop queueing: messages not yet queued for commit are dropped
	// without a PUBACK (the broker or the dock delivers those again).
	// Then close the queues so workers and committers drain them and exit.
	close(in.stopping)
	in.hmu.Lock()
	close(in.work)
	in.hmu.Unlock()
	workers.Wait()
	close(in.incoming)
	wg.Wait()
	close(in.ackq) // the committers have queued their last acks
	acker.Wait()
	in.disconnectAll()
	in.log.Info("ingest stopped")
	return nil
}

// disconnectAll ends every connection and joins the subscribe goroutines.
func (in *Ingest) disconnectAll() {
	select {
	case <-in.stopping:
	default:
		close(in.stopping)
	}
	for _, c := range in.conns {
		c.client.Disconnect(250)
		c.connected.Store(false)
	}
	in.bg.Wait()
}

// subscribe makes the subscription of a fresh connection, retrying while
// the connection is up and Run is not stopping.
func (in *Ingest) subscribe(cl paho.Client, c *conn, filters map[string]byte, log *slog.Logger) {
	bo := &backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: 10 * time.Second}
	bo.Reset()
	for {
		tok := cl.SubscribeMultiple(filters, nil)
		err := tok.Error()
		if !tok.WaitTimeout(in.cfg.ConnectTimeout) {
			err = fmt.Errorf("%w: no SUBACK within %s", ErrNotConnected, in.cfg.ConnectTimeout)
		} else if err = tok.Error(); err == nil {
			err = refused(tok.(*paho.SubscribeToken).Result())
		}
		if err == nil {
			log.Info("mqtt subscribed", "broker", in.cfg.Broker, "filters", len(filters), "group", in.cfg.Group)
			if !c.everSubscribed.Swap(true) && int(in.subscribed.Add(1)) == len(in.conns) {
				in.readyOnce.Do(func() { close(in.ready) })
			}
			return
		}
		wait := bo.NextBackOff()
		log.Error("mqtt subscribe failed; retrying", "err", err, "in", wait)
		select {
		case <-in.stopping:
			return
		case <-in.clock.After(wait):
		}
		if !c.connected.Load() {
			return // the next connect subscribes again
		}
	}
}

// handle runs in its own goroutine per message (paho, OrderMatters false):
// it hands the message to the decode workers.
func (in *Ingest) handle(_ paho.Client, msg paho.Message) {
	// Run waits (hmu.Lock) for every handler past this point before it
	// closes the workers' queue.
	in.hmu.RLock()
	defer in.hmu.RUnlock()
	select {
	case <-in.stopping:
		return // not PUBACKed: delivered again
	default:
	}
	select {
	case in.work <- msg:
	case <-in.stopping:
	}
}

// process decodes, checks and queues one message for commit; it runs on a
// decode worker.
func (in *Ingest) process(msg paho.Message) {
	defer func() {
		// Nothing a dock sends may stop the collector; a bug here is
		// logged, the message kept unacknowledged (redelivered).
		if r := recover(); r != nil {
			in.log.Error("ingest: panic handling message", "topic", msg.Topic(), "panic", r)
		}
	}()
	select {
	case <-in.stopping:
		return // not PUBACKed: delivered again
	default:
	}
	in.m.received.Inc()
	topic := msg.Topic()
	if p, err := wire.ParseDockTopic(topic); err == nil && CollectorTopic(p) {
		// Our own acks and commands, seen by the dock subscription.
		in.m.ignored.Inc()
		msg.Ack()
		return
	}
	parts, inc, err := in.dec.Decode(topic, msg.Payload())
	named := err != nil && inc.Env.ID != "" // a refused report whose envelope names it
	if err == nil || named {
		if eerr := in.checkEnrolled(parts.Dock); eerr != nil {
			err, named = eerr, false
		}
	}
	if err != nil {
		var rj *Rejection
		if !errors.As(err, &rj) {
			rj = reject(ReasonInvalid, err)
		}
		in.rejected(rj, topic, msg.Payload())
		msg.Ack() // refused for good: do not hold the broker's window
		if named {
			in.refuse(inc.Env.Dock, inc.Env.ID, rj)
		}
		return
	}
	k := heldKey{inc.Env.Dock, inc.Env.ID}
	in.pmu.Lock()
	if copies, ok := in.held[k]; ok {
		in.held[k] = append(copies, msg)
		in.pmu.Unlock()
		in.m.coalesced.Inc()
		return
	}
	in.held[k] = nil
	in.pmu.Unlock()
	if !in.enqueue(pending{inc: inc, msg: msg}) {
		in.release(k) // not queued, not PUBACKed: delivered again
	}
}

func (in *Ingest) enqueue(p pending) bool {
	select {
	case in.incoming <- p:
		return true
	case <-in.stopping:
		return false
	}
}

// release forgets a held message and returns the copies that arrived
// while it was held.
func (in *Ingest) release(k heldKey) []paho.Message {
	in.pmu.Lock()
	defer in.pmu.Unlock()
	copies := in.held[k]
	delete(in.held, k)
	return copies
}

// rejected counts and logs a rejection (logs are rate-limited: hostile
// traffic must not flood them).
func (in *Ingest) rejected(rj *Rejection, topic string, payload []byte) {
	in.m.rejected.WithLabelValues(rj.Reason).Inc()
	if !in.logLimit.Allow() {
		in.dropped.Add(1)
		return
	}
	if len(topic) > 200 {
		topic = topic[:200] + "…"
	}
	msg := rj.Err.Error()
	if len(msg) > 500 { // errors may quote hostile values
		msg = msg[:500] + "…"
	}
	in.log.Warn("message rejected", "reason", rj.Reason, "topic", topic, "bytes", len(payload), "err", msg,
		"suppressed_since_last", in.dropped.Swap(0))
}

// checkEnrolled asks the store, through a small cache, whether dock is
// enrolled.
func (in *Ingest) checkEnrolled(dock string) error {
	now := in.clock.Now()
	in.emu.Lock()
	e, ok := in.enrolled[dock]
	in.emu.Unlock()
	if !ok || now.After(e.expires) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a handler goroutine has no ctx of its own
		yes, err := in.st.DockEnrolled(ctx, dock)
		cancel()
		if err != nil {
			return reject(ReasonEnrolmentCheck, err)
		}
		e = enrolment{ok: yes, expires: now.Add(in.cfg.EnrolledTTL)}
		if !yes {
			e.expires = now.Add(in.cfg.NotEnrolledTTL)
		}
		in.emu.Lock()
		if len(in.enrolled) > 100_000 { // bound what spoofed dock ids can make us hold
			clear(in.enrolled)
		}
		in.enrolled[dock] = e
		in.emu.Unlock()
	}
	if !e.ok {
		return reject(ReasonNotEnrolled, fmt.Errorf("dock %q is not enrolled", dock))
	}
	return nil
}

// ErrRefused reports a subscription the broker refused (SUBACK 0x80):
// usually the collector's credentials lack the ACL for it.
var ErrRefused = errors.New("ingest: subscription refused by the broker")

func refused(granted map[string]byte) error {
	var bad []string
	for f, q := range granted {
		if q > 2 {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %v", ErrRefused, bad)
	}
	return nil
}

// Ready is closed once every connection has connected and subscribed for
// the first time (a readiness probe; later reconnects do not reopen it).
func (in *Ingest) Ready() <-chan struct{} { return in.ready }

// Connected reports whether at least one connection is up.
func (in *Ingest) Connected() bool {
	_, err := in.publisher()
	return err == nil
}

// Publish sends one message through a connected connection and waits for
// the broker's acknowledgement or ctx (alert.Publisher): the collector's
// alerts go out under ingest's identity, so a broker that binds each
// identity to one client id (deploy/cloud/mosquitto.conf) sees one client
// per collector.
func (in *Ingest) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	cl, err := in.publisher()
	if err != nil {
		return err
	}
	tok := cl.Publish(topic, qos, retained, payload)
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// publisher returns a connected client, for acks, commands and alerts.
func (in *Ingest) publisher() (paho.Client, error) {
	for _, c := range in.conns {
		if c.connected.Load() {
			return c.client, nil
		}
	}
	return nil, ErrNotConnected
}
