package broker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/cloud/broker"
	"github.com/berthdock/berth/cloud/wire"
)

// tokens is a TokenChecker holding enrolled docks' tokens.
type tokens struct {
	mu  sync.Mutex
	m   map[string]string
	err error
}

func (k *tokens) DockEnrolled(_ context.Context, id string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.m[id]
	return ok, k.err
}

func (k *tokens) CheckDockToken(_ context.Context, id, token string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return false, k.err
	}
	want, ok := k.m[id]
	return ok && want == token, nil
}

const collUser, collPass = "collector", "collector-password"

func start(t *testing.T) (*broker.Broker, *tokens) {
	t.Helper()
	k := &tokens{m: map[string]string{"dock-a": "token-of-dock-a", "dock-b": "token-of-dock-b"}}
	b, err := broker.New(broker.Opts{Addr: "127.0.0.1:0", CollectorUser: collUser, CollectorPassword: collPass, Docks: k,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, k
}

// client connects; a nil error means the broker accepted the credentials.
func client(t *testing.T, b *broker.Broker, user, pass string, lost chan<- error) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(fmt.Sprintf("%s-%d", user, time.Now().UnixNano())).
		SetUsername(user).SetPassword(pass).SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	if lost != nil {
		o.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c, nil
}

func mustClient(t *testing.T, b *broker.Broker, user, pass string) paho.Client {
	t.Helper()
	c, err := client(t, b, user, pass, nil)
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	return c
}

// granted subscribes and returns the granted QoS (0x80: refused).
func granted(t *testing.T, c paho.Client, filter string, cb paho.MessageHandler) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, cb)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	key := filter
	if strings.HasPrefix(key, "$share/") { // paho reports shared filters without the share prefix
		key = strings.Join(strings.Split(key, "/")[2:], "/")
	}
	return tok.(*paho.SubscribeToken).Result()[key]
}

func publish(t *testing.T, c paho.Client, topic string, qos byte, payload string) {
	t.Helper()
	tok := c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// inbox records what a subscriber receives.
type inbox struct {
	mu  sync.Mutex
	got map[string][]string // topic -> payloads
	ch  chan struct{}
}

func newInbox() *inbox { return &inbox{got: map[string][]string{}, ch: make(chan struct{}, 1000)} }

func (in *inbox) handle(_ paho.Client, m paho.Message) {
	in.mu.Lock()
	in.got[m.Topic()] = append(in.got[m.Topic()], string(m.Payload()))
	in.mu.Unlock()
	in.ch <- struct{}{}
}

func (in *inbox) has(topic, payload string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, p := range in.got[topic] {
		if p == payload {
			return true
		}
	}
	return false
}

func (in *inbox) waitFor(t *testing.T, topic, payload string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for !in.has(topic, payload) {
		select {
		case <-in.ch:
		case <-deadline:
			t.Fatalf("%q on %s not delivered", payload, topic)
		}
	}
}

func TestAuthentication(t *testing.T) {
	b, k := start(t)
	if _, _, err := net.SplitHostPort(b.Addr()); err != nil || strings.HasSuffix(b.Addr(), ":0") {
		t.Fatalf("Addr %q is not the bound address", b.Addr())
	}
	tests := []struct {
		name, user, pass string
		ok               bool
	}{
		{"collector", collUser, collPass, true},
		{"collector wrong password", collUser, "guess", false},
		{"dock", "dock-a", "token-of-dock-a", true},
		{"dock with other dock's token", "dock-a", "token-of-dock-b", false},
		{"unknown dock", "dock-z", "token-of-dock-a", false},
		{"anonymous", "", "", false},
		{"bad dock id", "../dock-a", "token-of-dock-a", false},
		{"dock without password", "dock-a", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client(t, b, tt.user, tt.pass, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("connect err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	// A failing token store refuses rather than lets in.
	k.mu.Lock()
	k.err = errors.New("database down")
	k.mu.Unlock()
	if _, err := client(t, b, "dock-a", "token-of-dock-a", nil); err == nil {
		t.Fatal("dock admitted while its token could not be checked")
	}
}

// (d) A dock can neither publish into another dock's subtree nor read
// another dock's topics or anyone's alerts; the collector can do all.
func TestDockACL(t *testing.T) {
	b, _ := start(t)
	coll := mustClient(t, b, collUser, collPass)
	all := newInbox()
	if q := granted(t, coll, "berth/v1/#", all.handle); q != 1 {
		t.Fatalf("collector subscription granted %#x", q)
	}
	a := mustClient(t, b, "dock-a", "token-of-dock-a")
	aIn := newInbox()

	for filter, want := range map[string]byte{
		wire.AckTopic("dock-a"):            1,
		wire.DockTopic("dock-a", "#"):      1,
		wire.CmdTopic("dock-a"):            1,
		wire.AckTopic("dock-b"):            0x80,
		wire.DockTopic("dock-b", "#"):      0x80,
		"berth/v1/docks/+/ack":             0x80,
		"berth/v1/docks/#":                 0x80,
		"berth/v1/alerts/#":                0x80,
		wire.AlertTopic("unit-1", "gap"):   0x80,
		"#":                                0x80,
		"$SYS/#":                           0x80,
		"$share/g/berth/v1/docks/dock-a/#": 0x80,
		"berth/v1/docks/dock-a-evil/#":     0x80,
		"berth/v1/docks/dock-a":            0x80,
	} {
		if got := granted(t, a, filter, aIn.handle); got != want {
			t.Errorf("dock-a subscribe %q granted %#x, want %#x", filter, got, want)
		}
	}

	// QoS 0 publications outside its rights are dropped; its own arrive.
	publish(t, a, wire.StateTopic("dock-b"), 0, "forged state of b")
	publish(t, a, wire.AckTopic("dock-a"), 0, "forged ack")
	publish(t, a, wire.AlertTopic("unit-1", "gap"), 0, "forged alert")
	publish(t, a, "berth/v1/docks/dock-a/garbage", 0, "bad kind")
	publish(t, a, wire.StateTopic("dock-a"), 1, "state of a")
	all.waitFor(t, wire.StateTopic("dock-a"), "state of a")
	for topic, p := range map[string]string{wire.StateTopic("dock-b"): "forged state of b", wire.AckTopic("dock-a"): "forged ack",
		wire.AlertTopic("unit-1", "gap"): "forged alert", "berth/v1/docks/dock-a/garbage": "bad kind"} {
		if all.has(topic, p) {
			t.Errorf("dock-a published %q on %s", p, topic)
		}
	}

	// What the collector sends to b or to supervisors never reaches a,
	// what it sends to a does.
	publish(t, coll, wire.AckTopic("dock-b"), 1, "ack for b")
	publish(t, coll, wire.AlertTopic("unit-1", "gap"), 1, "alert")
	publish(t, coll, wire.AckTopic("dock-a"), 1, "ack for a")
	aIn.waitFor(t, wire.AckTopic("dock-a"), "ack for a")
	if aIn.has(wire.AckTopic("dock-b"), "ack for b") || aIn.has(wire.AlertTopic("unit-1", "gap"), "alert") {
		t.Error("dock-a read another dock's ack or an alert")
	}

	// A QoS 1 publication outside its rights ends the dock's connection
	// (MQTT 3.1.1 has no negative PUBACK; mochi disconnects).
	lost := make(chan error, 1)
	a2, err := client(t, b, "dock-a", "token-of-dock-a", lost)
	if err != nil {
		t.Fatal(err)
	}
	a2.Publish(wire.StateTopic("dock-b"), 1, false, "forged at qos 1")
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("dock publishing into another dock's subtree at QoS 1 stayed connected")
	}
	if all.has(wire.StateTopic("dock-b"), "forged at qos 1") {
		t.Error("forged QoS 1 publication delivered")
	}
}

func TestDockAllowed(t *testing.T) {
	tests := []struct {
		dock, topic string
		write, ok   bool
	}{
		{"d1", "berth/v1/docks/d1/state", true, true},
		{"d1", "berth/v1/docks/d1/slots/3", true, true},
		{"d1", "berth/v1/docks/d1/devices/R-1", true, true},
		{"d1", "berth/v1/docks/d1/segments", true, true},
		{"d1", "berth/v1/docks/d1/audit", true, true},
		{"d1", "berth/v1/docks/d1/ack", true, false},
		{"d1", "berth/v1/docks/d1/cmd", true, false},
		{"d1", "berth/v1/docks/d1/slots", true, false},
		{"d1", "berth/v1/docks/d2/state", true, false},
		{"d1", "berth/v1/docks/d1", true, false},
		{"d1", "berth/v1/docks/d1/", true, false},
		{"d1", "berth/v1/alerts/u/k", true, false},
		{"d1", "berth/v1/docks/d1/ack", false, true},
		{"d1", "berth/v1/docks/d1/#", false, true},
		{"d1", "berth/v1/docks/d1/", false, false},
		{"d1", "berth/v1/docks/d10/#", false, false},
		{"d1", "berth/v1/docks/+/ack", false, false},
		{"d1", "berth/v1/alerts/#", false, false},
		{"../x", "berth/v1/docks/../x/state", true, false},
		{"", "berth/v1/docks//state", true, false},
	}
	for _, tt := range tests {
		if got := broker.DockAllowed(tt.dock, tt.topic, tt.write); got != tt.ok {
			t.Errorf("DockAllowed(%q, %q, write=%v) = %v, want %v", tt.dock, tt.topic, tt.write, got, tt.ok)
		}
	}
}

// Shared subscriptions split the messages between the group's members,
// each delivered once.
func TestSharedSubscription(t *testing.T) {
	b, _ := start(t)
	var mu sync.Mutex
	seen := map[string]int{}
	per := map[int]int{}
	var wg sync.WaitGroup
	const n = 200
	wg.Add(n)
	for i := range 2 {
		c := mustClient(t, b, collUser, collPass)
		if q := granted(t, c, wire.SharedSubscription("collectors"), func(_ paho.Client, m paho.Message) {
			mu.Lock()
			seen[string(m.Payload())]++
			per[i]++
			mu.Unlock()
			wg.Done()
		}); q != 1 {
			t.Fatalf("shared subscription granted %#x", q)
		}
	}
	a := mustClient(t, b, "dock-a", "token-of-dock-a")
	for i := range n {
		publish(t, a, wire.SegmentsTopic("dock-a"), 1, fmt.Sprint(i))
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("only %d of %d delivered", len(seen), n)
	}
	time.Sleep(100 * time.Millisecond) // a second delivery would show now
	mu.Lock()
	defer mu.Unlock()
	for p, k := range seen {
		if k != 1 {
			t.Errorf("message %s delivered %d times", p, k)
		}
	}
	if per[0] == 0 || per[1] == 0 {
		t.Errorf("not shared: %v", per)
	}
}

func TestRunAndClose(t *testing.T) {
	b, _ := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	mustClient(t, b, collUser, collPass)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
		t.Fatal("listener still accepting after Close")
	}
	if _, err := broker.New(broker.Opts{Addr: "127.0.0.1:0"}); !errors.Is(err, broker.ErrConfig) {
		t.Fatalf("New without credentials: %v", err)
	}
}
