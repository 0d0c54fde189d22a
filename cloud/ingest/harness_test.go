package ingest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdock/berth/cloud/broker"
	"github.com/berthdock/berth/cloud/ingest"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/store/pgtest"
	"github.com/berthdock/berth/cloud/wire"
)

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// --- stores ---------------------------------------------------------------

// db is one fresh database: a temp SQLite file or a unique PostgreSQL schema.
type db struct {
	name   string
	dsn    string
	schema string
}

func (d db) open(t testing.TB) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, d.dsn, &store.Opts{Schema: d.schema, Logger: quiet, MaxConns: 4})
	if err != nil {
		t.Fatalf("store.Open(%s): %v", d.name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// raw opens the database outside the store, for counting rows.
func (d db) raw(t testing.TB) *sql.DB {
	t.Helper()
	if d.name == "sqlite" {
		r, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(d.dsn, "sqlite://")+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	cfg, err := pgx.ParseConfig(d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = d.schema
	r := stdlib.OpenDB(*cfg)
	r.SetMaxOpenConns(2)
	t.Cleanup(func() { r.Close() })
	return r
}

func (d db) count(t testing.TB, r *sql.DB, table, dockPrefix string) int {
	t.Helper()
	q := "SELECT count(*) FROM " + table + " WHERE dock LIKE $1"
	if d.name == "sqlite" {
		q = strings.Replace(q, "$1", "?", 1)
	}
	var n int
	if err := r.QueryRow(q, dockPrefix+"%").Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func sqliteDB(t testing.TB) db {
	return db{name: "sqlite", dsn: "sqlite://" + filepath.Join(t.TempDir(), "collector.db")}
}

// pgAvailable reports whether PostgreSQL can be used: reachable, or
// required (then pgDB fails the test).
func pgAvailable(t testing.TB) bool {
	return pgtest.Reachable() == nil || pgtest.Required()
}

func pgDB(t testing.TB) db {
	t.Helper()
	return db{name: "postgres", dsn: pgtest.DSN(), schema: pgtest.Schema(t, "berth_ingest")}
}

// --- brokers --------------------------------------------------------------

// mqttEnv is a broker and the credentials to use on it.
type mqttEnv struct {
	name               string
	url                string
	collUser, collPass string
	// docksAuth: docks must present their id and token (embedded broker
	// with ACLs); Mosquitto on the dev machines allows anonymous clients.
	docksAuth bool
}

func mqttAddr() string {
	if v := os.Getenv("BERTH_MQTT_ADDR"); v != "" {
		return v
	}
	return "127.0.0.1:1883"
}

func mosquitto(t testing.TB) mqttEnv {
	t.Helper()
	c, err := net.DialTimeout("tcp", mqttAddr(), 2*time.Second)
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_MQTT") != "" || os.Getenv("BERTH_MQTT_ADDR") != "" {
			t.Fatalf("MQTT broker required but unreachable at %s: %v", mqttAddr(), err)
		}
		t.Skipf("MQTT broker unreachable at %s: %v", mqttAddr(), err)
	}
	c.Close()
	return mqttEnv{name: "mosquitto", url: "tcp://" + mqttAddr()}
}

func embedded(t testing.TB, tokens broker.TokenChecker) mqttEnv {
	t.Helper()
	b, err := broker.New(broker.Opts{Addr: "127.0.0.1:0", CollectorUser: "collector", CollectorPassword: "collector-secret",
		Docks: tokens, Logger: brokerLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return mqttEnv{name: "embedded", url: b.URL(), collUser: "collector", collPass: "collector-secret", docksAuth: true}
}

// env builds the broker for a test; the embedded one checks dock tokens
// against st.
func env(t testing.TB, name string, st *store.Store) mqttEnv {
	if name == "mosquitto" {
		return mosquitto(t)
	}
	return embedded(t, st)
}

// --- collectors -----------------------------------------------------------

var quiet = slog.New(slog.DiscardHandler)

var brokerLog = func() *slog.Logger {
	if os.Getenv("BERTH_INGEST_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return quiet
}()

// logBuf records log lines (to check for panics and rejections).
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type collector struct {
	in   *ingest.Ingest
	reg  *prometheus.Registry
	logs *logBuf
	stop context.CancelFunc
	done chan error
}

func dockFilters(docks []*simDock) []string {
	var f []string
	for _, d := range docks {
		f = append(f, wire.DockTopic(d.id, "#"))
	}
	return f
}

// startCollector runs an Ingest until the test ends (or c.stop).
func startCollector(t testing.TB, e mqttEnv, st ingest.Store, group string, filters []string, tune func(*ingest.Config)) *collector {
	t.Helper()
	cfg := ingest.Config{Broker: e.url, ClientID: "coll-" + randHex(4), Username: e.collUser, Password: e.collPass,
		Group: group, Filters: filters, Conns: 2, MaxBatch: 200, FlushInterval: 5 * time.Millisecond, Committers: 2,
		ConnectTimeout: 10 * time.Second}
	if tune != nil {
		tune(&cfg)
	}
	c := &collector{reg: prometheus.NewRegistry(), logs: &logBuf{}, done: make(chan error, 1)}
	log := slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	in, err := ingest.New(cfg, st, log, c.reg)
	if err != nil {
		t.Fatal(err)
	}
	c.in = in
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	go func() { c.done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-c.done; err != nil {
			t.Errorf("collector Run: %v", err)
		}
		if strings.Contains(c.logs.String(), "panic") {
			t.Errorf("collector logged a panic:\n%s", c.logs.String())
		}
	})
	select {
	case <-in.Ready():
	case err := <-c.done:
		t.Fatalf("collector ended before ready: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatalf("collector not ready:\n%s", c.logs.String())
	}
	return c
}

// metric reads a counter (optionally one label value) from the registry.
func (c *collector) metric(t testing.TB, name, label, value string) float64 {
	t.Helper()
	mfs, err := c.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// --- simulated docks ------------------------------------------------------

// outMsg is one report a simulated dock holds in its outbox.
type outMsg struct {
	id, topic string
	payload   []byte
}

// simDock is a dock's reporter, reduced: it publishes its outbox at QoS 1,
// keeps at most window messages awaiting the collector's ack, and
// publishes again what stays unacknowledged for retry (as agent/report).
type simDock struct {
	id, token string
	client    paho.Client

	mu      sync.Mutex
	acked   map[string]bool
	ackIDs  int // ids named in acks, repeats included
	badAcks int
	ackedAt map[string]time.Time
	refused map[string]string // negative acks: id -> reason
	notify  chan struct{}
}

func newDocks(t testing.TB, st *store.Store, prefix string, n int) []*simDock {
	t.Helper()
	var docks []*simDock
	for i := range n {
		d := &simDock{id: fmt.Sprintf("%s-d%02d", prefix, i), token: "token-" + randHex(12), acked: map[string]bool{},
			ackedAt: map[string]time.Time{}, notify: make(chan struct{}, 1)}
		if err := st.EnrollDock(context.Background(), d.id, "unit-1", d.token); err != nil {
			t.Fatal(err)
		}
		docks = append(docks, d)
	}
	return docks
}

func (d *simDock) connect(t testing.TB, e mqttEnv) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(e.url).SetClientID("sim-" + d.id + "-" + randHex(3)).
		SetCleanSession(true).SetAutoReconnect(true).SetOrderMatters(false).SetKeepAlive(30 * time.Second)
	if e.docksAuth {
		o.SetUsername(d.id).SetPassword(d.token)
	}
	o.SetOnConnectHandler(func(c paho.Client) { c.Subscribe(wire.AckTopic(d.id), 1, d.onAck) })
	d.client = paho.NewClient(o)
	if tok := d.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("dock %s connect: %v", d.id, tok.Error())
	}
	// Wait for the ack subscription.
	tok := d.client.Subscribe(wire.AckTopic(d.id), 1, d.onAck)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("dock %s subscribe: %v", d.id, tok.Error())
	}
	t.Cleanup(func() { d.client.Disconnect(100) })
}

func (d *simDock) onAck(_ paho.Client, m paho.Message) {
	e, err := wire.DecodeEnvelope(m.Payload())
	var b wire.Body
	if err == nil {
		b, err = wire.DecodeBody(e)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil || e.Type != wire.TypeAck || e.Dock != d.id {
		d.badAcks++
		return
	}
	now := time.Now()
	for _, r := range b.(*wire.Ack).Refused {
		if d.refused == nil {
			d.refused = map[string]string{}
		}
		d.refused[r.ID] = r.Reason
	}
	for _, id := range b.(*wire.Ack).IDs {
		d.ackIDs++
		if !d.acked[id] {
			d.acked[id] = true
			d.ackedAt[id] = now
		}
	}
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

func (d *simDock) isAcked(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.acked[id]
}

func (d *simDock) ackedCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.acked)
}

// send publishes msgs until every one is acknowledged or ctx ends; sent
// records each first publish time.
func (d *simDock) send(ctx context.Context, msgs []outMsg, window int, retry time.Duration, sent map[string]time.Time) error {
	// A report unacknowledged after retry is published again, and each
	// further try waits twice as long (up to 8×): a fixed short retry on a
	// loaded machine resends faster than the collector commits, and the
	// duplicates starve the first copies (congestion collapse).
	type flight struct {
		i     int
		at    time.Time
		tries uint
	}
	inflight := map[string]flight{}
	next := 0
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		now := time.Now()
		d.mu.Lock()
		for id, f := range inflight {
			switch {
			case d.acked[id]:
				delete(inflight, id)
			case now.Sub(f.at) > retry<<min(f.tries, 3): // no ack in time: publish again, same id
				m := msgs[f.i]
				d.client.Publish(m.topic, 1, false, m.payload)
				inflight[id] = flight{f.i, now, f.tries + 1}
			}
		}
		d.mu.Unlock()
		for next < len(msgs) && len(inflight) < window {
			m := msgs[next]
			if sent != nil {
				sent[m.id] = now
			}
			d.client.Publish(m.topic, 1, false, m.payload)
			inflight[m.id] = flight{next, now, 0}
			next++
		}
		if next == len(msgs) && len(inflight) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dock %s: %d of %d unacknowledged: %w", d.id, len(msgs)-d.ackedCount(), len(msgs), ctx.Err())
		case <-d.notify:
		case <-tick.C:
		}
	}
}

var t0 = time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)

// manifests makes n segment manifests of one recorder of dock d.
func (d *simDock) manifests(t testing.TB, n int) []outMsg {
	t.Helper()
	out := make([]outMsg, 0, n)
	for i := range n {
		m := &wire.SegmentManifest{Serial: "R-" + d.id, Seq: uint64(i + 1), Start: t0.Add(time.Duration(i) * time.Minute),
			End: t0.Add(time.Duration(i+1) * time.Minute), Size: 1 << 20, SHA256: strings.Repeat("ab", 32),
			StopCause: wire.StopAutoSplit, Officer: "o-1", ClockSyncedAt: t0, State: wire.SegBuffered}
		out = append(out, d.encode(t, fmt.Sprintf("m-%d", i), wire.SegmentsTopic(d.id), wire.TypeSegmentManifest, m))
	}
	return out
}

func (d *simDock) encode(t testing.TB, id, topic, typ string, body any) outMsg {
	t.Helper()
	e, err := wire.NewEnvelope(id, d.id, t0, typ, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return outMsg{id: id, topic: topic, payload: b}
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
		if os.Getenv("BERTH_INGEST_DEBUG") != "" {
			time.Sleep(490 * time.Millisecond)
		}
	}
}
