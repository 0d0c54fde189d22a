package collector_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/pki/pkitest"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/store/pgtest"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// The hostile-dock suite (issue 10): a collector with two enrolled docks in
// different units, dock-a (unit-a, REC-A) attacking dock-b (unit-b, REC-B).
// Every attack must be refused or alerted, and dock-b's footage receipted
// and reports committed, on SQLite and on PostgreSQL, over the embedded
// broker with tokens and over Mosquitto (deploy/cloud/mosquitto.conf as
// shipped) and the HTTPS upload endpoint with mutual TLS.
func TestHostileDock(t *testing.T) {
	for _, net := range []struct {
		name string
		make func(*testing.T) *hostileNet
	}{{"embedded", embeddedNet}, {"mosquitto", mosquittoNet}} {
		t.Run(net.name, func(t *testing.T) {
			t.Run("sqlite", func(t *testing.T) { hostileDock(t, net.make(t), "", "") })
			t.Run("postgres", func(t *testing.T) {
				dsn, schema := hostilePG(t)
				hostileDock(t, net.make(t), dsn, schema)
			})
		})
	}
}

// hostileNet is how the suite's machines reach the collector.
type hostileNet struct {
	// configure sets the collector's broker and upload transport.
	configure func(cc *collector.Config)
	// connect connects as dock's identity (its token, or its certificate)
	// asking for clientID.
	connect func(t *testing.T, col *collector.Collector, clientID, dock, token string) (*hostileDockClient, error)
	// supervisor is the options of a supervisors' app reading alerts.
	supervisor func(col *collector.Collector) *paho.ClientOptions
	// http is dock's HTTP client for the upload endpoint.
	http func(dock string) *http.Client
	// bindsIDs: the broker gives every identity its own client id
	// (Mosquitto's use_username_as_clientid) instead of refusing the ids
	// of others (the embedded broker, counting each refusal).
	bindsIDs bool
}

// embeddedNet: the collector's embedded broker and plain HTTP, with tokens.
func embeddedNet(*testing.T) *hostileNet {
	return &hostileNet{
		configure: func(cc *collector.Config) { cc.MQTT.Embedded = "127.0.0.1:0" },
		connect: func(t *testing.T, col *collector.Collector, clientID, dock, token string) (*hostileDockClient, error) {
			return dockConnect(t, col.BrokerURL(), clientID, dock, token)
		},
		supervisor: func(col *collector.Collector) *paho.ClientOptions {
			user, pass := col.BrokerCredentials()
			return paho.NewClientOptions().AddBroker(col.BrokerURL()).SetUsername(user).SetPassword(pass)
		},
		http: func(string) *http.Client { return http.DefaultClient },
	}
}

// mosquittoNet: Mosquitto as shipped and the HTTPS upload endpoint, every
// machine with its certificate from one CA (tokens are sent as well and
// must agree).
func mosquittoNet(t *testing.T) *hostileNet {
	ca := pkitest.New(t)
	url := startMosquitto(t, ca)
	srv := ca.Server()
	certs := map[string]*tls.Config{}
	for _, d := range []string{"dock-a", "dock-b", supervisorApp} {
		certs[d] = clientTLS(t, ca.Dock(d), ca.CAFile)
	}
	return &hostileNet{
		configure: func(cc *collector.Config) {
			m := mosquittoCollector(t, ca, url, "collector-a")
			cc.MQTT = m.MQTT
			cc.TLSCert, cc.TLSKey, cc.ClientCA = srv.Cert, srv.Key, ca.CAFile
		},
		connect: func(t *testing.T, _ *collector.Collector, clientID, dock, token string) (*hostileDockClient, error) {
			return dockConnectTLS(t, url, certs[dock], clientID, dock, "", token)
		},
		supervisor: func(*collector.Collector) *paho.ClientOptions {
			return paho.NewClientOptions().AddBroker(url).SetTLSConfig(certs[supervisorApp])
		},
		http: func(dock string) *http.Client {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = certs[dock]
			return &http.Client{Transport: tr}
		},
		bindsIDs: true,
	}
}

func hostilePG(t *testing.T) (dsn, schema string) {
	return pgtest.DSN(), pgtest.Schema(t, "berth_hostile")
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type hostileDockClient struct {
	id, token string
	c         paho.Client
	lost      chan error
	mu        sync.Mutex
	acked     map[string]bool
	n         int
}

func dockConnect(t *testing.T, broker, clientID, dock, token string) (*hostileDockClient, error) {
	t.Helper()
	return dockConnectTLS(t, broker, nil, clientID, dock, dock, token)
}

// dockConnectTLS connects as dock with cfg's TLS (nil: none), sending user
// and token (either may be empty beside a client certificate).
func dockConnectTLS(t *testing.T, broker string, cfg *tls.Config, clientID, dock, user, token string) (*hostileDockClient, error) {
	t.Helper()
	d := &hostileDockClient{id: dock, token: token, lost: make(chan error, 4), acked: map[string]bool{}}
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetUsername(user).SetPassword(token).SetTLSConfig(cfg).
		SetCleanSession(false).SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(_ paho.Client, err error) { d.lost <- err })
	d.c = paho.NewClient(o)
	tok := d.c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { d.c.Disconnect(50) })
	sub := d.c.Subscribe(wire.AckTopic(dock), 1, func(_ paho.Client, m paho.Message) {
		env, err := wire.DecodeEnvelope(m.Payload())
		if err != nil {
			return
		}
		b, err := wire.DecodeBody(env)
		if a, ok := b.(*wire.Ack); err == nil && ok {
			d.mu.Lock()
			for _, id := range a.IDs {
				d.acked[id] = true
			}
			d.mu.Unlock()
		}
	})
	if !sub.WaitTimeout(5*time.Second) || sub.Error() != nil {
		t.Fatalf("subscribe acks: %v", sub.Error())
	}
	return d, nil
}

// publish sends one report and returns its message id.
func (d *hostileDockClient) publish(t *testing.T, topic, typ string, at time.Time, body any) string {
	t.Helper()
	d.n++
	id := fmt.Sprintf("%s-%d-%s", d.id, d.n, randHex(3))
	env, err := wire.NewEnvelope(id, d.id, at, typ, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tok := d.c.Publish(topic, 1, false, b)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
	return id
}

func (d *hostileDockClient) waitAcked(t *testing.T, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d.mu.Lock()
		missing := 0
		for _, id := range ids {
			if !d.acked[id] {
				missing++
			}
		}
		d.mu.Unlock()
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d reports never acknowledged (committed)", d.id, missing, len(ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func metricValue(t *testing.T, col *collector.Collector, name, label, value string) float64 {
	t.Helper()
	mfs, err := col.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// counterTotal sums a counter's series.
func counterTotal(t *testing.T, col *collector.Collector, name string) float64 {
	t.Helper()
	mfs, err := col.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func hostileDock(t *testing.T, hn *hostileNet, dsn, schema string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	tokA, tokB := randHex(16), randHex(16)
	keyOf := func() string {
		pub, _, _ := ed25519.GenerateKey(nil)
		return base64.StdEncoding.EncodeToString(pub)
	}
	var cc collector.Config
	cc.DataDir = filepath.Join(dir, "collector")
	cc.Store, cc.Schema = dsn, schema
	cc.HTTP = "127.0.0.1:0"
	cc.MQTT.ClientID = "collector-hostile-" + randHex(3)
	hn.configure(&cc)
	cc.Analysis.Every = time.Hour
	cc.Units = []collector.UnitEnrolment{{ID: "unit-a", Custodian: "cust-a"}, {ID: "unit-b", Custodian: "cust-b"}}
	cc.Docks = []collector.DockEnrolment{{ID: "dock-a", Unit: "unit-a", Token: tokA}, {ID: "dock-b", Unit: "unit-b", Token: tokB}}
	cc.Recorders = []collector.RecorderEnrolment{{Serial: "REC-A", Unit: "unit-a", PublicKey: keyOf()},
		{Serial: "REC-B", Unit: "unit-b", PublicKey: keyOf()}}
	log := slog.New(slog.DiscardHandler)
	col := runCollector(t, ctx, cancel, cc, log)
	st := col.Store()
	now := time.Now().UTC()

	b, err := hn.connect(t, col, wire.DockClientID("dock-b"), "dock-b", tokB)
	if err != nil {
		t.Fatalf("honest dock-b: %v", err)
	}

	// Attack: take over the collector's and dock-b's MQTT sessions. The
	// embedded broker refuses (and counts) each; Mosquitto makes each
	// connection dock-a's own client id. Either way no session is lost
	// (dock-b's is checked below, after its reports).
	lostBefore := counterTotal(t, col, "berth_ingest_connections_lost_total")
	for i, id := range []string{cc.MQTT.ClientID, cc.MQTT.ClientID + "-alerts", wire.DockClientID("dock-b"), "collector-a", "dock-b"} {
		_, err := hn.connect(t, col, id, "dock-a", tokA)
		switch {
		case hn.bindsIDs && err != nil:
			t.Errorf("dock-a's certificate asking for %q (it gets its own id): %v", id, err)
		case !hn.bindsIDs && i < 3 && err == nil: // the last two belong to no one on the embedded broker
			t.Errorf("dock-a connected as %q", id)
		}
	}
	if got := metricValue(t, col, "berth_broker_connect_refused_total", "reason", "client_id"); !hn.bindsIDs && got != 3 {
		t.Errorf("client-id takeovers counted %v, want 3", got)
	}
	a, err := hn.connect(t, col, wire.DockClientID("dock-a"), "dock-a", tokA)
	if err != nil {
		t.Fatalf("dock-a as itself: %v", err)
	}

	// The custodians of unit-b hear of attacks on their recorders over MQTT.
	alertsSeen := make(chan string, 16)
	sup := paho.NewClient(hn.supervisor(col).SetClientID("supervisor-unit-b-" + randHex(3)).
		SetCleanSession(true).SetProtocolVersion(4))
	if tok := sup.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("supervisor connect: %v", tok.Error())
	}
	defer sup.Disconnect(50)
	if tok := sup.Subscribe(wire.Root+"/alerts/unit-b/#", 1, func(_ paho.Client, m paho.Message) {
		// Never block paho's router: a blocked handler would also hang
		// Disconnect at the test's end.
		select {
		case alertsSeen <- m.Topic():
		default:
		}
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("supervisor subscribe: %v", tok.Error())
	}
	var seenMu sync.Mutex
	seenA := map[string]int{}
	if tok := sup.Subscribe(wire.Root+"/alerts/unit-a/#", 1, func(_ paho.Client, m paho.Message) {
		seenMu.Lock()
		seenA[m.Topic()]++
		seenMu.Unlock()
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("supervisor subscribe: %v", tok.Error())
	}

	// Attack: dock-a uploads junk as REC-B/7, then claims REC-B/8 by naming
	// the hash of footage already held.
	upA := func() *uploader.HTTPClient {
		c, err := uploader.NewClient(uploader.ClientOpts{BaseURL: col.UploadURL(), Dock: "dock-a", Token: tokA, CollectorKey: col.PublicKey(),
			HTTPClient: hn.http("dock-a")})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}()
	junk := bytes.Repeat([]byte("junk"), 4096)
	js := sha256.Sum256(junk)
	_, err = upA.Upload(ctx, "REC-B", 7, int64(len(junk)), hex.EncodeToString(js[:]), bytes.NewReader(junk), nil)
	var ue *upload.Error
	if !errors.As(err, &ue) || ue.Status != http.StatusForbidden || ue.Reason != upload.ReasonRecorderRefused {
		t.Fatalf("dock-a uploading as REC-B: %v", err)
	}

	// dock-b's honest upload of REC-B/7 is receipted.
	upB, err := uploader.NewClient(uploader.ClientOpts{BaseURL: col.UploadURL(), Dock: "dock-b", Token: tokB, CollectorKey: col.PublicKey(),
		HTTPClient: hn.http("dock-b")})
	if err != nil {
		t.Fatal(err)
	}
	footage := bytes.Repeat([]byte("REC-B segment 7 "), 8192)
	fs := sha256.Sum256(footage)
	sum := hex.EncodeToString(fs[:])
	rcpt, err := upB.Upload(ctx, "REC-B", 7, int64(len(footage)), sum, bytes.NewReader(footage), nil)
	if err != nil {
		t.Fatalf("dock-b's honest upload: %v", err)
	}
	if err := rcpt.Verify(col.PublicKey(), "REC-B", 7, sum, int64(len(footage))); err != nil {
		t.Fatalf("dock-b's receipt: %v", err)
	}
	cr, _ := json.Marshal(upload.CreateRequest{Device: "REC-B", Seq: 8, Size: int64(len(footage)), SHA256: sum})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, col.UploadURL()+upload.PathPrefix, bytes.NewReader(cr))
	req.Header.Set(upload.HeaderDock, "dock-a")
	req.Header.Set("Authorization", "Bearer "+tokA)
	resp, err := hn.http("dock-a").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("dock-a claiming REC-B/8 by hash: %d", resp.StatusCode)
	}
	if _, ok, _ := st.Receipt(ctx, "REC-B", 8); ok {
		t.Error("REC-B/8 receipted to dock-a")
	}

	// Attack: dock-a rewrites REC-B's metadata (far future, another unit),
	// reports a segment of REC-B, future-dates its own REC-A, and echoes a
	// forged receipt for REC-A/3 it never uploaded.
	evil := &wire.DeviceHealth{Serial: "REC-B", Firmware: "6.6.6", Unit: "unit-nowhere", DockedAt: now.Add(200 * 24 * time.Hour),
		DockClock: now.Add(200 * 24 * time.Hour), Battery: wire.Battery{Percent: 1, HealthPct: 1}, Storage: wire.Storage{TotalBytes: 1, HealthPct: 1}}
	future := &wire.DeviceHealth{Serial: "REC-A", Firmware: "2.0.0", DockedAt: now.Add(time.Hour), DockClock: now.Add(time.Hour),
		Battery: wire.Battery{Percent: 50, HealthPct: 90}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 50, HealthPct: 100}}
	early := &wire.DeviceHealth{Serial: "REC-A", Firmware: "2.0.0", DockedAt: now.Add(-90 * 24 * time.Hour), DockClock: now.Add(-90 * 24 * time.Hour),
		Battery: wire.Battery{Percent: 50, HealthPct: 90}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 50, HealthPct: 100}}
	segB := &wire.SegmentManifest{Serial: "REC-B", Seq: 9, Start: now.Add(-3 * time.Hour), End: now.Add(-2 * time.Hour), Size: 10,
		SHA256: sum, StopCause: wire.StopUser, State: wire.SegReleased, ClockSyncedAt: now}
	forgedA := &wire.SegmentManifest{Serial: "REC-A", Seq: 3, Start: now.Add(-3 * time.Hour), End: now.Add(-2 * time.Hour), Size: 10,
		SHA256: sum, StopCause: wire.StopUser, State: wire.SegReleased, ClockSyncedAt: now,
		Receipt: &wire.Receipt{ObjectID: sum, Device: "REC-A", Seq: 3, SHA256: sum, Size: 10, StoredAt: now, KeyID: "forged", Signature: "Zm9yZ2Vk"}}
	aIDs := []string{
		a.publish(t, wire.DeviceTopic("dock-a", "REC-B"), wire.TypeDeviceHealth, now, evil),
		a.publish(t, wire.DeviceTopic("dock-a", "REC-A"), wire.TypeDeviceHealth, now, future),
		a.publish(t, wire.DeviceTopic("dock-a", "REC-A"), wire.TypeDeviceHealth, now, early),
		a.publish(t, wire.SegmentsTopic("dock-a"), wire.TypeSegmentManifest, now, segB),
		a.publish(t, wire.SegmentsTopic("dock-a"), wire.TypeSegmentManifest, now, forgedA),
	}

	// dock-b's honest reports: REC-B's health and its receipted segment.
	good := &wire.DeviceHealth{Serial: "REC-B", Firmware: "2.1.0", Unit: "unit-b", DockedAt: now.Add(-time.Minute), DockClock: now.Add(-time.Minute),
		Battery: wire.Battery{Percent: 80, HealthPct: 95}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 60, HealthPct: 100}}
	seg7 := &wire.SegmentManifest{Serial: "REC-B", Seq: 7, Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour), Size: int64(len(footage)),
		SHA256: sum, Computed: sum, StopCause: wire.StopUser, State: wire.SegUploaded, ClockSyncedAt: now, Receipt: &rcpt}
	bIDs := []string{
		b.publish(t, wire.DeviceTopic("dock-b", "REC-B"), wire.TypeDeviceHealth, now, good),
		b.publish(t, wire.SegmentsTopic("dock-b"), wire.TypeSegmentManifest, now, seg7),
	}
	b.waitAcked(t, bIDs...)
	a.waitAcked(t, aIDs...) // refused reports are acknowledged (so never resent) but change nothing

	select {
	case err := <-b.lost:
		t.Fatalf("dock-b lost its session during the attacks: %v", err)
	default:
	}
	if lost := counterTotal(t, col, "berth_ingest_connections_lost_total"); lost != lostBefore {
		t.Errorf("the collector lost its MQTT session %v times during the attacks", lost-lostBefore)
	}

	// The honest dock's footage is receipted and its reports stand.
	segs, err := st.Segments(ctx, "REC-B", time.Time{}, time.Time{})
	if err != nil || len(segs) != 1 || segs[0].Seq != 7 || segs[0].Receipt == nil || *segs[0].Receipt != rcpt {
		t.Fatalf("REC-B segments %+v %v: want seq 7 with dock-b's receipt only", segs, err)
	}
	devs, err := st.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		switch d.Serial {
		case "REC-B":
			if d.Unit != "unit-b" || d.LastDock != "dock-b" || d.Firmware != "2.1.0" {
				t.Errorf("REC-B = %+v: dock-a's report changed it", d)
			}
		case "REC-A":
			t.Errorf("REC-A = %+v: a report dated in the future or before its enrolment was stored", d)
		}
	}
	segsA, err := st.Segments(ctx, "REC-A", time.Time{}, time.Time{})
	if err != nil || len(segsA) != 1 || segsA[0].Receipt != nil {
		t.Errorf("REC-A segments %+v %v: the forged echoed receipt must not count", segsA, err)
	}

	// Each attack raised an alert to the unit enrolment names.
	for _, w := range []struct{ kind, unit, serial string }{
		{store.KindRecorderRefused, "unit-b", "REC-B"},
		{store.KindReportTime, "unit-a", "REC-A"},
		{store.KindEchoedReceipt, "unit-a", "REC-A"},
	} {
		as, err := st.Alerts(ctx, store.AlertFilter{Kind: w.kind, Serial: w.serial})
		if err != nil || len(as) == 0 {
			t.Errorf("no %s alert for %s: %v", w.kind, w.serial, err)
			continue
		}
		for _, al := range as {
			if al.Unit != w.unit || al.Dock != "dock-a" {
				t.Errorf("%s alert %+v: want unit %s, dock dock-a", w.kind, al, w.unit)
			}
		}
	}
	select {
	case topic := <-alertsSeen:
		if topic != wire.AlertTopic("unit-b", store.KindRecorderRefused) {
			t.Errorf("unit-b's supervisors got an alert on %s", topic)
		}
	case <-time.After(10 * time.Second):
		t.Error("the refused upload's alert never reached unit-b over MQTT")
	}
	// Attacks that already held stay refused: dock-a publishing on
	// dock-b's topics (as dock-b, and a forged ack to dock-b), an envelope
	// naming dock-b on dock-a's own topic, and an oversized publish.
	x, err := hn.connect(t, col, "dock-a-x-"+randHex(3), "dock-a", tokA)
	if err != nil {
		t.Fatalf("dock-a's second client: %v", err)
	}
	spoof := &wire.DeviceHealth{Serial: "REC-B", Firmware: "9.9.9", DockedAt: now, DockClock: now,
		Battery: wire.Battery{Percent: 1, HealthPct: 1}, Storage: wire.Storage{TotalBytes: 1, HealthPct: 1}}
	for _, pub := range []struct{ topic, dock string }{
		{wire.DeviceTopic("dock-b", "REC-B"), "dock-b"},
		{wire.DeviceTopic("dock-a", "REC-B"), "dock-b"},
	} {
		env, _ := wire.NewEnvelope("spoof-"+randHex(3), pub.dock, now, wire.TypeDeviceHealth, spoof)
		p, _ := env.Marshal()
		x.c.Publish(pub.topic, 1, false, p).WaitTimeout(2 * time.Second)
	}
	forged, _ := wire.NewEnvelope("forged-ack-"+randHex(3), "dock-b", now, wire.TypeAck, &wire.Ack{IDs: []string{"never-sent"}})
	fp, _ := forged.Marshal()
	x.c.Publish(wire.AckTopic("dock-b"), 1, false, fp).WaitTimeout(2 * time.Second)
	x.c.Publish(wire.DeviceTopic("dock-a", "REC-A"), 0, false, bytes.Repeat([]byte("x"), 2<<20)).WaitTimeout(2 * time.Second)
	// dock-b is still served: a further report is committed.
	b.waitAcked(t, b.publish(t, wire.StateTopic("dock-b"), wire.TypeDockState, time.Now().UTC(),
		&wire.DockState{State: wire.DockOnline, Version: "1.0.0", Slots: 4}))
	b.mu.Lock()
	if b.acked["never-sent"] {
		t.Error("dock-b received an ack forged by dock-a")
	}
	b.mu.Unlock()
	if devs, err := st.Devices(ctx); err != nil {
		t.Fatal(err)
	} else {
		for _, d := range devs {
			if d.Serial == "REC-B" && d.Firmware != "2.1.0" {
				t.Errorf("REC-B = %+v: dock-a's spoofed report landed", d)
			}
		}
	}

	// Alerts raised while ingesting are delivered by the next analysis
	// pass, once each, to the unit enrolment names.
	for range 2 {
		if _, err := col.Engine().Pass(ctx); err != nil {
			t.Fatalf("analysis pass: %v", err)
		}
	}
	for _, kind := range []string{store.KindReportTime, store.KindEchoedReceipt} {
		topic := wire.AlertTopic("unit-a", kind)
		waitFor(t, topic, func() bool { seenMu.Lock(); defer seenMu.Unlock(); return seenA[topic] > 0 })
	}
	time.Sleep(200 * time.Millisecond)
	seenMu.Lock()
	for topic, n := range seenA {
		if n != 1 && (topic == wire.AlertTopic("unit-a", store.KindReportTime) || topic == wire.AlertTopic("unit-a", store.KindEchoedReceipt)) {
			t.Errorf("%s delivered %d times, want once", topic, n)
		}
	}
	seenMu.Unlock()
	for kind, want := range map[string]float64{store.KindReportTime: 2, store.KindRecorderRefused: 2} {
		if got := metricValue(t, col, "berth_store_reports_refused_total", "kind", kind); got != want {
			t.Errorf("%s reports refused counted %v, want %v", kind, got, want)
		}
	}
	if got := metricValue(t, col, "berth_upload_rejections_total", "reason", string(upload.ReasonRecorderRefused)); got < 2 {
		t.Errorf("recorder_refused rejections counted %v, want at least 2", got)
	}
}
