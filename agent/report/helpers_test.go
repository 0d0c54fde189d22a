package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/berthdock/berth/agent/outbox"
	"github.com/berthdock/berth/cloud/wire"
)

// mochiBroker is an in-process mochi-mqtt broker on a TCP port of its own.
type mochiBroker struct {
	t    testing.TB
	addr string
	srv  *mqtt.Server
	once sync.Once
}

// startMochi starts a broker on addr ("127.0.0.1:0" for a fresh port) with
// the allow-all auth hook.
func startMochi(t testing.TB, addr string) *mochiBroker {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	var l *listeners.TCP
	var err error
	for range 50 { // the old listener's port may take a moment to be free again
		l = listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
		if err = srv.AddListener(l); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	b := &mochiBroker{t: t, addr: l.Address(), srv: srv}
	t.Cleanup(b.close)
	return b
}

func (b *mochiBroker) close() { b.once.Do(func() { _ = b.srv.Close() }) } // mochi's Close panics when called twice

// restart closes the broker (losing its sessions and retained messages, as
// mochi keeps them in memory) and starts a new one on the same port.
func (b *mochiBroker) restart() *mochiBroker {
	b.close()
	return startMochi(b.t, b.addr)
}

// mosquittoAddr is the shared Mosquitto, or a skip when it is unreachable
// and BERTH_REQUIRE_MQTT is unset.
func mosquittoAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("BERTH_MQTT_ADDR")
	if addr == "" {
		addr = "127.0.0.1:1883"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_MQTT") != "" {
			t.Fatalf("mosquitto at %s: %v (BERTH_REQUIRE_MQTT is set)", addr, err)
		}
		t.Skipf("mosquitto at %s unreachable: %v", addr, err)
	}
	c.Close()
	return addr
}

// onBothBrokers runs f against an in-process mochi and the shared Mosquitto.
func onBothBrokers(t *testing.T, f func(t *testing.T, addr string)) {
	t.Run("mochi", func(t *testing.T) {
		t.Parallel()
		f(t, startMochi(t, "127.0.0.1:0").addr)
	})
	t.Run("mosquitto", func(t *testing.T) {
		t.Parallel()
		f(t, mosquittoAddr(t))
	})
}

var dockSeq atomic.Uint64

// newDock is a dock id no other test, nor an earlier run against the shared
// broker, uses.
func newDock(t testing.TB) string {
	d := fmt.Sprintf("rt-%x-%d", time.Now().UnixNano(), dockSeq.Add(1))
	if err := wire.ValidID(d); err != nil {
		t.Fatal(err)
	}
	return d
}

// newBox is a badger-backed outbox in a temporary directory.
func newBox(t testing.TB) *outbox.Box {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(t.TempDir()).WithLogger(nil).WithSyncWrites(true).
		WithMemTableSize(8 << 20).WithNumMemtables(2).WithValueThreshold(64 << 10).WithBlockCacheSize(1 << 20).WithIndexCacheSize(1 << 20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b, err := outbox.New(db, "")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// put queues n dock-state reports and returns their ids.
func put(t testing.TB, box *outbox.Box, dock string, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		id := fmt.Sprintf("state-%d", dockSeq.Add(1))
		m, err := Encode(id, dock, time.Now(), wire.TypeSlotState, wire.SlotTopic(dock, 1), false,
			&wire.SlotState{Slot: 1, State: wire.SlotEmpty})
		if err != nil {
			t.Fatal(err)
		}
		if err := box.Put(m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// testConfig is a reporter config with timings short enough for tests.
func testConfig(dock, addr string) Config {
	return Config{Dock: dock, Broker: "tcp://" + addr, Username: dock, AckTimeout: 400 * time.Millisecond,
		Poll: 50 * time.Millisecond, ReconnectMax: 200 * time.Millisecond, KeepAlive: 5 * time.Second,
		ConnectTimeout: 2 * time.Second}
}

// running is a reporter whose Run is in a goroutine; stop cancels it and
// returns Run's error.
type running struct {
	*Reporter
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func startReporter(t testing.TB, cfg Config, box Outbox, onCmd func(wire.Envelope, *wire.Command)) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Reporter: New(cfg, box, onCmd, testLog(t)), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- r.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(10 * time.Second):
			r.err = errors.New("Run did not return 10 s after cancel")
		}
	})
	return r.err
}

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// collector plays the collector: it sees every message under the dock's
// topics and acknowledges reports in the wire format when told to.
type collector struct {
	t    testing.TB
	dock string
	c    paho.Client

	mu      sync.Mutex
	seen    map[string][]time.Time // report id -> arrival times
	states  []wire.DockState       // dock.state bodies in arrival order
	stateID []string               // and their envelope ids
	autoAck bool
}

func newCollector(t testing.TB, addr, dock string, autoAck bool) *collector {
	t.Helper()
	col := &collector{t: t, dock: dock, seen: map[string][]time.Time{}, autoAck: autoAck}
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).
		SetClientID(fmt.Sprintf("collector-%s-%d", dock, dockSeq.Add(1))).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond).
		SetConnectTimeout(time.Second).
		SetOrderMatters(false)
	subscribed := make(chan error, 1)
	opts.SetOnConnectHandler(func(c paho.Client) {
		tok := c.Subscribe(wire.DockTopic(dock, "#"), 1, col.handle)
		tok.Wait()
		select {
		case subscribed <- tok.Error():
		default:
		}
	})
	col.c = paho.NewClient(opts)
	col.c.Connect()
	select {
	case err := <-subscribed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("collector did not connect and subscribe")
	}
	t.Cleanup(func() { col.c.Disconnect(100) })
	return col
}

func (col *collector) handle(_ paho.Client, m paho.Message) {
	parts, err := wire.ParseDockTopic(m.Topic())
	if err != nil || parts.Kind == wire.KindAck || parts.Kind == wire.KindCmd {
		return
	}
	e, err := wire.DecodeEnvelope(m.Payload())
	if err != nil {
		col.t.Errorf("collector: %s: %v", m.Topic(), err)
		return
	}
	b, err := wire.DecodeBody(e)
	if err != nil {
		col.t.Errorf("collector: %s: %v", m.Topic(), err)
		return
	}
	col.mu.Lock()
	col.seen[e.ID] = append(col.seen[e.ID], time.Now())
	if s, ok := b.(*wire.DockState); ok {
		col.states = append(col.states, *s)
		col.stateID = append(col.stateID, e.ID)
	}
	auto := col.autoAck
	col.mu.Unlock()
	if auto { // as the collector does, wills and offline states included
		// Best effort: during a broker restart or teardown the ack is lost,
		// as it may be in the field; the reporter publishes again.
		if p, err := ackPayload(col.dock, e.ID); err == nil {
			col.c.Publish(wire.AckTopic(col.dock), 1, false, p)
		}
	}
}

func (col *collector) setAutoAck(on bool) {
	col.mu.Lock()
	col.autoAck = on
	col.mu.Unlock()
}

func ackPayload(dock string, ids ...string) ([]byte, error) {
	e, err := wire.NewEnvelope(fmt.Sprintf("ack-%d", dockSeq.Add(1)), dock, time.Now(), wire.TypeAck, &wire.Ack{IDs: ids})
	if err != nil {
		return nil, err
	}
	return e.Marshal()
}

// ack publishes the collector's acknowledgement of ids and waits for the
// broker to have it.
func (col *collector) ack(ids ...string) {
	p, err := ackPayload(col.dock, ids...)
	if err != nil {
		col.t.Error(err)
		return
	}
	col.publish(wire.AckTopic(col.dock), p)
}

func (col *collector) command(c wire.Command) string {
	id := fmt.Sprintf("cmd-%d", dockSeq.Add(1))
	e, err := wire.NewEnvelope(id, col.dock, time.Now(), wire.TypeCommand, &c)
	if err != nil {
		col.t.Fatal(err)
	}
	p, _ := e.Marshal()
	col.publish(wire.CmdTopic(col.dock), p)
	return id
}

func (col *collector) publish(topic string, payload []byte) {
	tok := col.c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		col.t.Errorf("collector publish on %s: %v", topic, tok.Error())
	}
}

// arrivals is how often each id arrived.
func (col *collector) arrivals(id string) []time.Time {
	col.mu.Lock()
	defer col.mu.Unlock()
	return append([]time.Time(nil), col.seen[id]...)
}

// offlineIDs are the envelope ids of the offline states seen.
func (col *collector) offlineIDs() []string {
	col.mu.Lock()
	defer col.mu.Unlock()
	var ids []string
	for i, s := range col.states {
		if s.State == wire.DockOffline {
			ids = append(ids, col.stateID[i])
		}
	}
	return ids
}

func (col *collector) lastState() (wire.DockState, bool) {
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.states) == 0 {
		return wire.DockState{}, false
	}
	return col.states[len(col.states)-1], true
}

// retainedState subscribes afresh and returns the retained dock state, as a
// collector starting now would see it.
func retainedState(t testing.TB, addr, dock string) (wire.Envelope, wire.DockState, bool) {
	t.Helper()
	got := make(chan paho.Message, 1)
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).
		SetClientID(fmt.Sprintf("probe-%s-%d", dock, dockSeq.Add(1))).SetCleanSession(true)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("probe connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	tok := c.Subscribe(wire.StateTopic(dock), 1, func(_ paho.Client, m paho.Message) {
		select {
		case got <- m:
		default:
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("probe subscribe: %v", tok.Error())
	}
	select {
	case m := <-got:
		if !m.Retained() {
			t.Errorf("state message not retained")
		}
		e, err := wire.DecodeEnvelope(m.Payload())
		if err != nil {
			t.Fatalf("retained state: %v", err)
		}
		b, err := wire.DecodeBody(e)
		if err != nil {
			t.Fatalf("retained state body: %v", err)
		}
		return e, *b.(*wire.DockState), true
	case <-time.After(time.Second):
		return wire.Envelope{}, wire.DockState{}, false
	}
}

// clearRetained removes what a test left retained on the shared broker.
func clearRetained(t testing.TB, addr string, topics ...string) {
	t.Cleanup(func() {
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).
			SetClientID(fmt.Sprintf("clear-%d", dockSeq.Add(1))).SetCleanSession(true))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			return
		}
		defer c.Disconnect(100)
		for _, tp := range topics {
			c.Publish(tp, 1, true, []byte{}).WaitTimeout(2 * time.Second)
		}
	})
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			if os.Getenv("DUMP") != "" {
				pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			}
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxy forwards TCP to a broker; cut and kill drop connections without an
// MQTT DISCONNECT, as a power cut or a cable pull would.
type proxy struct {
	l     net.Listener
	to    string
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
	// down refuses new connections: the network is out.
	down atomic.Bool
}

func startProxy(t testing.TB, to string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, to: to}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.kill)
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.to)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(out, in); out.Close() }()
		go func() { defer p.wg.Done(); io.Copy(in, out); in.Close() }()
	}
}

// kill closes the listener and cuts every connection.
func (p *proxy) kill() {
	p.l.Close()
	p.cut()
	p.wg.Wait()
}

// outage takes the network down: the connections open now drop and new
// ones are refused until restore. A broker publishes a will only when it
// sees the old connection go; a dock that reconnects before then takes its
// session over, and mosquitto (2.0) sends no will on a takeover. A test
// that waits for a will must therefore keep the dock off until it came.
func (p *proxy) outage() {
	p.down.Store(true)
	p.cut()
}

// restore brings the network back after an outage.
func (p *proxy) restore() { p.down.Store(false) }

// cut drops the connections open now; new ones are still accepted.
func (p *proxy) cut() {
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}
