// Package broker is the collector's embedded MQTT broker for single-machine
// use (a station's collector, the demo): mochi-mqtt/server/v2 with one
// listener and an authentication and ACL hook for berth's two kinds of
// client.
//
//   - The collector (Opts.CollectorUser / CollectorPassword) may publish and
//     subscribe everywhere, including shared subscriptions ($share/...),
//     which mochi supports (MQTT 5 and, as Mosquitto does, 3.1.1 clients).
//   - A dock connects with username = its dock id and password = its token,
//     checked through Opts.Docks (the store's CheckDockToken). It may
//     subscribe only to filters under berth/v1/docks/{its id}/, and publish
//     only on its own report topics there (state, slots/+, devices/+,
//     segments, audit): ack and cmd are the collector's to write.
//   - Everything else, anonymous clients included, is refused.
//
// Client ids belong to identities (DESIGN.md, "Trust and judgement"), so no
// client can take over another's session: an id the broker holds for one
// identity (connected, or a persistent session) is refused to every other;
// ids of the form wire.DockClientID(dock) (and that followed by "-...")
// belong to that dock alone; ids starting with Opts.CollectorClientID belong
// to the collector's account. Refused connections are counted by reason
// (berth_broker_connect_refused_total). Logs never carry a packet's
// payload: mochi's packet attributes are reduced to type, topic and size.
//
// Production deployments use Mosquitto or EMQX with the same rules in their
// own ACL configuration (deploy/cloud).
package broker

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdock/berth/cloud/pki"
	"github.com/berthdock/berth/cloud/wire"
)

// TokenChecker checks a dock's credentials (*store.Store satisfies it).
type TokenChecker interface {
	CheckDockToken(ctx context.Context, id, token string) (bool, error)
	// DockEnrolled reports whether id is an enrolled dock (a certificate
	// names a dock; enrolment must still hold it).
	DockEnrolled(ctx context.Context, id string) (bool, error)
}

// Opts configures a Broker.
type Opts struct {
	// Addr is the TCP listen address, e.g. ":1883"; "127.0.0.1:0" picks a
	// free port (Addr reports it).
	Addr string
	TLS  *tls.Config // nil: plain TCP
	// MTLSAddr, when set, is a second listener for mutual TLS: MTLS must
	// require and verify client certificates (pki.ServerTLS). A client
	// there is who its certificate says (pki.IdentityOf): a dock's
	// certificate makes it that dock, whatever user name it sends, and a
	// collector's certificate the collector.
	MTLSAddr string
	MTLS     *tls.Config

	// CollectorUser and CollectorPassword are the collector's credentials;
	// both required.
	CollectorUser, CollectorPassword string
	// Docks checks dock credentials; required.
	Docks TokenChecker
	// AuthTimeout bounds one credential check (default 5s).
	AuthTimeout time.Duration
	// MaxPacket bounds an MQTT packet (default 1 MiB); larger ones end the
	// connection. It is above wire.MaxPayload so that ingest sees, counts
	// and logs oversize reports instead of the broker cutting them.
	MaxPacket uint32
	Logger    *slog.Logger
	// CollectorClientID is the prefix of the collector's client ids
	// (reserved for CollectorUser); empty reserves none beyond the ids the
	// collector holds.
	CollectorClientID string
	// Registry receives the broker's metrics; nil keeps them unexported.
	Registry prometheus.Registerer
}

// Errors of the broker.
var (
	ErrConfig = errors.New("broker: bad options")
)

// Broker is a running embedded broker.
type Broker struct {
	srv       *mqtt.Server
	lis       *servedTCP
	mlis      *servedTCP
	log       *slog.Logger
	closeOnce sync.Once
	closeErr  error
}

// New binds the listener and starts serving. Call Close (or Run) to stop.
func New(o Opts) (*Broker, error) {
	if o.Addr == "" {
		return nil, fmt.Errorf("%w: no listen address", ErrConfig)
	}
	if o.CollectorUser == "" || o.CollectorPassword == "" || o.Docks == nil {
		return nil, fmt.Errorf("%w: collector credentials and a dock token checker are required", ErrConfig)
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = 5 * time.Second
	}
	if o.MaxPacket == 0 {
		o.MaxPacket = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = o.MaxPacket
	caps.SharedSubAvailable = 1
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_broker_connect_refused_total",
		Help: "Connections the embedded broker refused, by reason (credentials, client_id: an id belonging to another identity)."},
		[]string{"reason"})
	for _, r := range []string{refusedCredentials, refusedClientID} {
		refused.WithLabelValues(r)
	}
	if o.Registry != nil {
		if err := o.Registry.Register(refused); err != nil {
			return nil, fmt.Errorf("broker: register metrics: %w", err)
		}
	}
	srv := mqtt.New(&mqtt.Options{Capabilities: caps, Logger: slog.New(payloadFree{o.Logger.Handler()}), InlineClient: false})
	h := &authHook{opts: o, log: o.Logger, srv: srv, refused: refused}
	if err := srv.AddHook(h, nil); err != nil {
		return nil, fmt.Errorf("broker: add auth hook: %w", err)
	}
	lis := &servedTCP{TCP: listeners.NewTCP(listeners.Config{Type: listeners.TypeTCP, ID: "berth-tcp", Address: o.Addr,
		TLSConfig: o.TLS}), done: make(chan struct{})}
	if err := srv.AddListener(lis); err != nil {
		return nil, fmt.Errorf("broker: listen %s: %w", o.Addr, err)
	}
	var mlis *servedTCP
	if o.MTLSAddr != "" {
		if o.MTLS == nil || o.MTLS.ClientAuth != tls.RequireAndVerifyClientCert || o.MTLS.ClientCAs == nil {
			srv.Close()
			return nil, fmt.Errorf("%w: the mutual-TLS listener needs a TLS config that requires and verifies client certificates", ErrConfig)
		}
		mlis = &servedTCP{TCP: listeners.NewTCP(listeners.Config{Type: listeners.TypeTCP, ID: mtlsListenerID, Address: o.MTLSAddr,
			TLSConfig: o.MTLS}), done: make(chan struct{})}
		if err := srv.AddListener(mlis); err != nil {
			srv.Close()
			return nil, fmt.Errorf("broker: listen %s: %w", o.MTLSAddr, err)
		}
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	return &Broker{srv: srv, lis: lis, mlis: mlis, log: o.Logger}, nil
}

const mtlsListenerID = "berth-mtls"

// MTLSURL is the mutual-TLS listener as a paho URL (ssl://host:port);
// empty without one.
func (b *Broker) MTLSURL() string {
	if b.mlis == nil {
		return ""
	}
	return "ssl://" + b.mlis.Address()
}

// Addr is the address the listener is bound to (host:port).
func (b *Broker) Addr() string { return b.lis.Address() }

// URL is the address as a paho broker URL (tcp:// or ssl://).
func (b *Broker) URL() string {
	if b.lis != nil && strings.HasPrefix(b.lis.Protocol(), "tcp") {
		return "tcp://" + b.Addr()
	}
	return "ssl://" + b.Addr()
}

// Run serves until ctx ends, then closes the broker.
func (b *Broker) Run(ctx context.Context) error {
	<-ctx.Done()
	return b.Close()
}

// Close disconnects every client, closes the listener and waits for the
// accept loop and the client goroutines (mochi's housekeeping loop ends on
// its own; mochi offers no way to wait for it). Safe to call more than once.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.closeErr = b.srv.Close()
		<-b.lis.done
		if b.mlis != nil {
			<-b.mlis.done
		}
	})
	return b.closeErr
}

// servedTCP is mochi's TCP listener, noting when its accept loop ends (mochi
// runs it in a goroutine of its own and does not wait for it).
type servedTCP struct {
	*listeners.TCP
	done chan struct{}

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{} // accepted and not yet ended
}

func (l *servedTCP) Serve(establish listeners.EstablishFn) {
	defer close(l.done)
	l.TCP.Serve(func(id string, c net.Conn) error {
		if !l.track(c) {
			return c.Close() // accepted as the listener closed
		}
		defer l.untrack(c)
		return establish(id, c)
	})
}

// Close closes the listener as mochi does, then every connection it
// accepted. mochi closes only the clients it has registered and then waits
// for every client goroutine: a connection accepted while the broker was
// closing (a dock reconnecting at that moment) was never registered, so its
// read never ended and Close waited for ever (seen in the dockd restart
// test). Closing what was accepted ends that read.
func (l *servedTCP) Close(closer listeners.CloseFn) {
	l.TCP.Close(closer)
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
}

func (l *servedTCP) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	if l.conns == nil {
		l.conns = make(map[net.Conn]struct{})
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *servedTCP) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// authHook authenticates the collector and docks and enforces their ACLs.
type authHook struct {
	mqtt.HookBase
	opts    Opts
	log     *slog.Logger
	srv     *mqtt.Server
	refused *prometheus.CounterVec
}

// Reasons a connection is refused (metric labels).
const (
	refusedCredentials = "credentials"
	refusedClientID    = "client_id"
)

func (h *authHook) ID() string { return "berth-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// OnConnectAuthenticate accepts the collector's credentials or an enrolled
// dock's id and token.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if tc, ok := cl.Net.Conn.(*tls.Conn); ok {
		if id, ok := pki.PeerIdentity(tc.ConnectionState()); ok {
			return h.certAuthenticate(cl, pk, id)
		}
		if cl.Net.Listener == mtlsListenerID {
			h.refused.WithLabelValues(refusedCredentials).Inc()
			h.log.Warn("broker: refused a client certificate without a berth identity", "remote", cl.Net.Remote)
			return false
		}
	}
	user, pass := string(pk.Connect.Username), string(pk.Connect.Password)
	if user == h.opts.CollectorUser {
		ok := equal(pass, h.opts.CollectorPassword)
		if !ok {
			h.refused.WithLabelValues(refusedCredentials).Inc()
			h.log.Warn("broker: collector authentication failed", "remote", cl.Net.Remote)
			return false
		}
		return h.idAllowed(cl, user)
	}
	if err := wire.ValidID(user); err != nil || pass == "" {
		h.refused.WithLabelValues(refusedCredentials).Inc()
		h.log.Warn("broker: refused client without valid dock credentials", "remote", cl.Net.Remote,
			"client", truncate(cl.ID, 80))
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.AuthTimeout) // mochi's hook has no ctx
	defer cancel()
	ok, err := h.opts.Docks.CheckDockToken(ctx, user, pass)
	if err != nil {
		h.log.Error("broker: dock token check failed", "dock", user, "err", err)
		return false
	}
	if !ok {
		h.refused.WithLabelValues(refusedCredentials).Inc()
		h.log.Warn("broker: dock authentication failed", "dock", user, "remote", cl.Net.Remote)
		return false
	}
	return h.idAllowed(cl, user)
}

// certAuthenticate makes a client whose certificate verified the identity
// the certificate names: its user name becomes the dock id (or the
// collector's user), so the ACLs and client-id ownership follow the
// certificate. A user name or token sent as well must agree with it.
func (h *authHook) certAuthenticate(cl *mqtt.Client, pk packets.Packet, id pki.Identity) bool {
	user := id.ID
	if id.Kind == pki.KindCollector {
		user = h.opts.CollectorUser
	}
	sent, pass := string(pk.Connect.Username), string(pk.Connect.Password)
	agree := sent == "" || sent == user || (id.Kind == pki.KindCollector && sent == id.ID)
	if agree && id.Kind == pki.KindDock {
		ctx, cancel := context.WithTimeout(context.Background(), h.opts.AuthTimeout) // mochi's hook has no ctx
		var ok bool
		var err error
		if pass != "" {
			ok, err = h.opts.Docks.CheckDockToken(ctx, user, pass)
		} else {
			ok, err = h.opts.Docks.DockEnrolled(ctx, user)
		}
		cancel()
		if err != nil {
			h.log.Error("broker: dock check failed", "dock", user, "err", err)
			return false
		}
		agree = ok
	}
	if id.Kind == pki.KindDock && user == h.opts.CollectorUser {
		agree = false // a dock certificate never makes a collector
	}
	if !agree {
		h.refused.WithLabelValues(refusedCredentials).Inc()
		h.log.Warn("broker: credentials disagree with the client certificate", "identity", id.String(),
			"user", truncate(sent, 80), "remote", cl.Net.Remote)
		return false
	}
	cl.Properties.Username = []byte(user)
	return h.idAllowed(cl, user)
}

// idAllowed refuses a client id that belongs to another identity than
// user: a takeover of its session (see the package comment).
func (h *authHook) idAllowed(cl *mqtt.Client, user string) bool {
	id := cl.ID
	owner := ""
	switch {
	case strings.HasPrefix(id, wire.DockClientIDPrefix):
		rest := strings.TrimPrefix(id, wire.DockClientIDPrefix)
		// berth-dock-{dock} or berth-dock-{dock}-...: a dock id may itself
		// contain '-', so the id belongs to user if it names user so.
		if rest != user && !strings.HasPrefix(rest, user+"-") {
			owner = "another dock"
		}
		if user == h.opts.CollectorUser {
			owner = ""
		}
	case h.opts.CollectorClientID != "" && strings.HasPrefix(id, h.opts.CollectorClientID) && user != h.opts.CollectorUser:
		owner = "the collector"
	}
	if owner == "" {
		if held, ok := h.srv.Clients.Get(id); ok && string(held.Properties.Username) != user {
			owner = "another identity"
		}
	}
	if owner == "" {
		return true
	}
	h.refused.WithLabelValues(refusedClientID).Inc()
	h.log.Warn("broker: refused a client id that belongs to "+owner, "user", user, "client", truncate(id, 80), "remote", cl.Net.Remote)
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// OnACLCheck: write is a publish on topic; read is a subscription filter
// or a delivery on topic.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	if user == h.opts.CollectorUser {
		return true
	}
	ok := DockAllowed(user, topic, write)
	if !ok {
		h.log.Debug("broker: dock ACL refused", "dock", user, "topic", topic, "write", write)
	}
	return ok
}

// DockAllowed is the dock ACL: dock may read (subscribe to, be delivered)
// anything under berth/v1/docks/{dock}/ and publish its own reports there;
// nothing else.
func DockAllowed(dock, topic string, write bool) bool {
	if wire.ValidID(dock) != nil {
		return false
	}
	prefix := wire.Root + "/docks/" + dock + "/"
	rest, ok := strings.CutPrefix(topic, prefix)
	if !ok || rest == "" {
		return false
	}
	if !write {
		return true // a filter under the prefix matches only this dock's topics
	}
	p, err := wire.ParseDockTopic(topic)
	if err != nil || p.Dock != dock {
		return false
	}
	return p.Kind != wire.KindAck && p.Kind != wire.KindCmd
}
