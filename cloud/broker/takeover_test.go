package broker_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdock/berth/cloud/broker"
	"github.com/berthdock/berth/cloud/wire"
)

func refusedCount(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "berth_broker_connect_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no berth_broker_connect_refused_total{reason=%q}", reason)
	return 0
}

func connectAs(t *testing.T, b *broker.Broker, id, user, pass string, lost chan<- error) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetCleanSession(false).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetProtocolVersion(4) // no fallback to 3.1: one attempt per connect
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

// A client id belongs to one identity: with dock-a's credentials, neither
// the collector's ids nor dock-b's (its own form, or one dock-b holds) can
// be taken; each attempt is refused and counted, and the holder stays
// connected.
func TestClientIDTakeoverRefused(t *testing.T) {
	k := &tokens{m: map[string]string{"dock-a": "token-of-dock-a", "dock-b": "token-of-dock-b"}}
	reg := prometheus.NewRegistry()
	b, err := broker.New(broker.Opts{Addr: "127.0.0.1:0", CollectorUser: collUser, CollectorPassword: collPass, Docks: k,
		Logger: slog.New(slog.DiscardHandler), CollectorClientID: "collector-main", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	collLost, bLost, bOddLost := make(chan error, 4), make(chan error, 4), make(chan error, 4)
	if _, err := connectAs(t, b, "collector-main-0", collUser, collPass, collLost); err != nil {
		t.Fatalf("collector: %v", err)
	}
	if _, err := connectAs(t, b, wire.DockClientID("dock-b"), "dock-b", "token-of-dock-b", bLost); err != nil {
		t.Fatalf("dock-b: %v", err)
	}
	if _, err := connectAs(t, b, "dock-b-tool", "dock-b", "token-of-dock-b", bOddLost); err != nil {
		t.Fatalf("dock-b with another id: %v", err)
	}
	for _, id := range []string{"collector-main-0", "collector-main-alerts", wire.DockClientID("dock-b"), "dock-b-tool", wire.DockClientID("dock-b") + "-2"} {
		if _, err := connectAs(t, b, id, "dock-a", "token-of-dock-a", nil); err == nil {
			t.Errorf("dock-a connected as %q", id)
		}
	}
	if got := refusedCount(t, reg, "client_id"); got != 5 {
		t.Errorf("client_id refusals counted %v, want 5", got)
	}
	// dock-a as itself, and dock-b reconnecting as itself (its own session).
	if _, err := connectAs(t, b, wire.DockClientID("dock-a"), "dock-a", "token-of-dock-a", nil); err != nil {
		t.Errorf("dock-a as itself: %v", err)
	}
	select {
	case err := <-collLost:
		t.Fatalf("the collector lost its session: %v", err)
	case err := <-bLost:
		t.Fatalf("dock-b lost its session: %v", err)
	case err := <-bOddLost:
		t.Fatalf("dock-b's tool lost its session: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := connectAs(t, b, wire.DockClientID("dock-b"), "dock-b", "token-of-dock-b", nil); err != nil {
		t.Errorf("dock-b taking over its own session: %v", err)
	}
	if got := refusedCount(t, reg, "client_id"); got != 5 {
		t.Errorf("client_id refusals counted %v after honest connects, want 5", got)
	}
}
