package broker_test

import (
	"crypto/tls"
	"log/slog"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdock/berth/cloud/broker"
	"github.com/berthdock/berth/cloud/pki"
	"github.com/berthdock/berth/cloud/pki/pkitest"
	"github.com/berthdock/berth/cloud/wire"
)

func startMTLS(t *testing.T, ca *pkitest.CA) *broker.Broker {
	t.Helper()
	srv := ca.Server()
	mt, err := pki.ServerTLS(ca.CAFile, srv.Cert, srv.Key)
	if err != nil {
		t.Fatal(err)
	}
	k := &tokens{m: map[string]string{"dock-a": "token-of-dock-a", "dock-b": "token-of-dock-b"}}
	b, err := broker.New(broker.Opts{Addr: "127.0.0.1:0", MTLSAddr: "127.0.0.1:0", MTLS: mt, CollectorUser: collUser,
		CollectorPassword: collPass, Docks: k, Logger: slog.New(slog.DiscardHandler), CollectorClientID: "collector-main",
		Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func connectTLS(t *testing.T, url string, cfg *tls.Config, id, user, pass string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(user).SetPassword(pass).SetTLSConfig(cfg).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetProtocolVersion(4)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("connect timed out")
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c, nil
}

// On the mutual-TLS listener a dock is who its certificate says: dock-a's
// certificate connects as dock-a (no user name or token needed) and is held
// to dock-a's topics; it cannot take dock-b's or the collector's ids, claim
// dock-b's user name (even with dock-b's token), and a missing certificate
// or one from another CA never gets through the handshake.
func TestMTLSListener(t *testing.T) {
	ca := pkitest.New(t)
	other := pkitest.New(t)
	b := startMTLS(t, ca)
	a := ca.Dock("dock-a")
	client := func(p pkitest.Pair) *tls.Config {
		cfg, err := pki.ClientTLS(ca.CAFile, p.Cert, p.Key)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	noCert, err := pki.ClientTLS(ca.CAFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	foreign := client(other.Dock("dock-a"))

	for _, tc := range []struct {
		name, id, user, pass string
		cfg                  *tls.Config
		ok                   bool
	}{
		{"own certificate, no user name", wire.DockClientID("dock-a"), "", "", client(a), true},
		{"own certificate, own user and token", wire.DockClientID("dock-a") + "-2", "dock-a", "token-of-dock-a", client(a), true},
		{"no certificate", wire.DockClientID("dock-a") + "-3", "dock-a", "token-of-dock-a", noCert, false},
		{"certificate of another CA", wire.DockClientID("dock-a") + "-4", "", "", foreign, false},
		{"A's certificate, B's client id", wire.DockClientID("dock-b"), "", "", client(a), false},
		{"A's certificate, B's user name and token", wire.DockClientID("dock-b"), "dock-b", "token-of-dock-b", client(a), false},
		{"A's certificate, a wrong token", wire.DockClientID("dock-a") + "-5", "dock-a", "token-of-dock-b", client(a), false},
		{"A's certificate, the collector's client id", "collector-main-x", "", "", client(a), false},
		{"A's certificate, the collector's user name", "x-1", collUser, collPass, client(a), false},
		{"collector certificate", "collector-main-tls", "", "", client(ca.Collector("collector-c1")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := connectTLS(t, b.MTLSURL(), tc.cfg, tc.id, tc.user, tc.pass)
			if (err == nil) != tc.ok {
				t.Errorf("connect: %v, want ok=%v", err, tc.ok)
			}
		})
	}

	// dock-a's certificate holds it to dock-a's subtree.
	c, err := connectTLS(t, b.MTLSURL(), client(a), wire.DockClientID("dock-a")+"-acl", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for filter, want := range map[string]byte{
		wire.Root + "/docks/dock-a/ack": 1,
		wire.Root + "/docks/dock-b/ack": 0x80,
		wire.Root + "/docks/#":          0x80,
	} {
		tok := c.Subscribe(filter, 1, nil)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", filter, tok.Error())
		}
		if got := tok.(*paho.SubscribeToken).Result()[filter]; got != want {
			t.Errorf("subscribe %s as dock-a's certificate: granted %#x, want %#x", filter, got, want)
		}
	}
}
