package collector_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/pki"
	"github.com/berthdock/berth/cloud/pki/pkitest"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// Mutual TLS end to end, embedded broker and upload endpoint: a dock with
// its certificate reports (committed and acknowledged) and uploads (a
// receipt); no certificate, a certificate of another CA, or dock-a's
// certificate acting as dock-b are refused.
func TestMutualTLS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca, other := pkitest.New(t), pkitest.New(t)
	srv := ca.Server()
	tokA, tokB := randHex(16), randHex(16)
	var cc collector.Config
	cc.DataDir = filepath.Join(t.TempDir(), "collector")
	cc.HTTP = "127.0.0.1:0"
	cc.TLSCert, cc.TLSKey, cc.ClientCA = srv.Cert, srv.Key, ca.CAFile
	cc.MQTT.Embedded = "127.0.0.1:0"
	cc.MQTT.EmbeddedTLS = "127.0.0.1:0"
	cc.MQTT.ClientID = "collector-mtls-" + randHex(3)
	cc.Analysis.Every = time.Hour
	cc.Units = []collector.UnitEnrolment{{ID: "unit-a", Custodian: "cust-a"}, {ID: "unit-b", Custodian: "cust-b"}}
	cc.Docks = []collector.DockEnrolment{{ID: "dock-a", Unit: "unit-a", Token: tokA}, {ID: "dock-b", Unit: "unit-b", Token: tokB}}
	col := runCollector(t, ctx, cancel, cc, slog.New(slog.DiscardHandler))
	mtlsURL := col.BrokerMTLSURL()
	if mtlsURL == "" {
		t.Fatal("no mutual-TLS listener")
	}
	clientTLS := func(p pkitest.Pair) *tls.Config {
		cfg, err := pki.ClientTLS(ca.CAFile, p.Cert, p.Key)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	certA := clientTLS(ca.Dock("dock-a"))
	noCert, err := pki.ClientTLS(ca.CAFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	foreign := clientTLS(other.Dock("dock-a"))

	// MQTT: dock-a by certificate alone reports and is acknowledged.
	a, err := dockConnectTLS(t, mtlsURL, certA, wire.DockClientID("dock-a"), "dock-a", "", "")
	if err != nil {
		t.Fatalf("dock-a with its certificate: %v", err)
	}
	now := time.Now().UTC()
	good := &wire.DeviceHealth{Serial: "REC-A", Firmware: "2.0.0", DockedAt: now, DockClock: now,
		Battery: wire.Battery{Percent: 50, HealthPct: 90}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 50, HealthPct: 100}}
	a.waitAcked(t, a.publish(t, wire.DeviceTopic("dock-a", "REC-A"), wire.TypeDeviceHealth, now, good))

	for _, tc := range []struct {
		name, id, user, tok string
		cfg                 *tls.Config
	}{
		{"no certificate", wire.DockClientID("dock-a") + "-x", "dock-a", tokA, noCert},
		{"another CA's certificate", wire.DockClientID("dock-a") + "-y", "dock-a", tokA, foreign},
		{"dock-a's certificate as dock-b's client id", wire.DockClientID("dock-b"), "", "", certA},
		{"dock-a's certificate with dock-b's credentials", wire.DockClientID("dock-b"), "dock-b", tokB, certA},
		{"dock-a's certificate as the collector", cc.MQTT.ClientID + "-z", "", "", certA},
	} {
		if _, err := dockConnectTLS(t, mtlsURL, tc.cfg, tc.id, "dock-a", tc.user, tc.tok); err == nil {
			t.Errorf("MQTT, %s: connected", tc.name)
		}
	}
	// dock-a's certificate is held to dock-a's topics: a report published
	// as dock-b is dropped by the ACL, never committed or acknowledged.
	env, err := wire.NewEnvelope("forged-1", "dock-b", now, wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: "REC-B", Firmware: "6.6.6",
		DockedAt: now, DockClock: now, Battery: wire.Battery{Percent: 1, HealthPct: 1}, Storage: wire.Storage{TotalBytes: 1, HealthPct: 1}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	a.c.Publish(wire.DeviceTopic("dock-b", "REC-B"), 1, false, raw)
	forged := env.ID
	select { // the broker refuses the publish and ends the connection
	case <-a.lost:
	case <-time.After(10 * time.Second):
		t.Error("publishing as dock-b with dock-a's certificate left the connection up")
	}
	time.Sleep(200 * time.Millisecond) // a commit of the forged report would land by now
	devs, err := col.Store().Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.Serial == "REC-B" {
			t.Errorf("dock-a's certificate reported REC-B as dock-b (message %s): %+v", forged, d)
		}
	}

	// Upload: dock-a's certificate (with its token) gets a receipt.
	httpsFor := func(cfg *tls.Config) *http.Client {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	footage := bytes.Repeat([]byte("footage of dock-a "), 1000)
	s := sha256.Sum256(footage)
	sum := hex.EncodeToString(s[:])
	uploadAs := func(cfg *tls.Config, dock, tok string, seq uint64) error {
		c, err := uploader.NewClient(uploader.ClientOpts{BaseURL: col.UploadURL(), Dock: dock, Token: tok,
			CollectorKey: col.PublicKey(), HTTPClient: httpsFor(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Upload(ctx, "REC-A", seq, int64(len(footage)), sum, bytes.NewReader(footage), nil)
		return err
	}
	if err := uploadAs(certA, "dock-a", tokA, 1); err != nil {
		t.Fatalf("upload with dock-a's certificate: %v", err)
	}
	if _, ok, err := col.Store().Receipt(ctx, "REC-A", 1); !ok || err != nil {
		t.Errorf("REC-A/1 not receipted: %v", err)
	}
	for _, tc := range []struct {
		name      string
		cfg       *tls.Config
		dock, tok string
	}{
		{"token without a certificate", noCert, "dock-a", tokA},
		{"another CA's certificate", foreign, "dock-a", tokA},
		{"dock-a's certificate as dock-b", certA, "dock-b", tokB},
		{"dock-a's certificate with dock-b's token", certA, "dock-a", tokB},
	} {
		err := uploadAs(tc.cfg, tc.dock, tc.tok, 2)
		var ue *upload.Error
		if err == nil || (errors.As(err, &ue) && ue.Status != http.StatusUnauthorized) {
			t.Errorf("upload, %s: %v, want refused (401 or handshake)", tc.name, err)
		}
	}
	if _, ok, _ := col.Store().Receipt(ctx, "REC-A", 2); ok {
		t.Error("REC-A/2 receipted to a refused upload")
	}
}
