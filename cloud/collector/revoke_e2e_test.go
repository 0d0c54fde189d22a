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
	"github.com/berthdock/berth/cloud/pki/pkitest"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// A revoked dock certificate (the CA's revocation list, crl_file) is
// refused at connect, by the embedded broker's mutual-TLS listener and by
// Mosquitto (crlfile, as shipped, reloaded), and at upload; another
// dock's certificate keeps working.
func TestRevokedDock(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mosquitto bool
	}{{"embedded", false}, {"mosquitto", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ca := pkitest.New(t)
			srv := ca.Server()
			var cc collector.Config
			var reload func()
			if tc.mosquitto {
				var url string
				url, reload = runMosquitto(t, ca)
				cc = mosquittoCollector(t, ca, url, "collector-a")
			} else {
				cc.DataDir = filepath.Join(t.TempDir(), "collector")
				cc.HTTP = "127.0.0.1:0"
				cc.MQTT.Embedded = "127.0.0.1:0"
				cc.MQTT.EmbeddedTLS = "127.0.0.1:0"
				cc.MQTT.ClientID = "collector-revoke-" + randHex(3)
				cc.Analysis.Every = time.Hour
				reload = func() {} // the collector reads the list again when it changes
			}
			cc.TLSCert, cc.TLSKey, cc.ClientCA, cc.CRLFile = srv.Cert, srv.Key, ca.CAFile, ca.CRLFile
			tokA, tokB := randHex(16), randHex(16)
			cc.Docks = []collector.DockEnrolment{{ID: "dock-a", Unit: "unit-a", Token: tokA}, {ID: "dock-b", Unit: "unit-b", Token: tokB}}
			col := runCollector(t, ctx, cancel, cc, slog.New(slog.DiscardHandler))
			mqttURL := cc.MQTT.Broker
			if !tc.mosquitto {
				mqttURL = col.BrokerMTLSURL()
			}
			pairA, pairB := ca.Dock("dock-a"), ca.Dock("dock-b")
			certs := map[string]*tls.Config{"dock-a": clientTLS(t, pairA, ca.CAFile), "dock-b": clientTLS(t, pairB, ca.CAFile)}
			connect := func(dock string) error {
				d, err := dockConnectTLS(t, mqttURL, certs[dock], wire.DockClientID(dock)+"-"+randHex(2), dock, "", "")
				if err == nil {
					d.c.Disconnect(50)
				}
				return err
			}
			uploadAs := func(dock, tok string, seq uint64) error {
				// Each dock's recorder its own footage: the same bytes
				// from another unit's dock would be a claim of unit-a's
				// footage, refused whatever the certificates.
				footage := bytes.Repeat([]byte("revocation "+dock+" "), 1000)
				s := sha256.Sum256(footage)
				sum := hex.EncodeToString(s[:])
				tr := http.DefaultTransport.(*http.Transport).Clone()
				tr.TLSClientConfig = certs[dock]
				c, err := uploader.NewClient(uploader.ClientOpts{BaseURL: col.UploadURL(), Dock: dock, Token: tok,
					CollectorKey: col.PublicKey(), HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}})
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.Upload(ctx, "REC-"+dock, seq, int64(len(footage)), sum, bytes.NewReader(footage), nil)
				return err
			}
			for _, dock := range []string{"dock-a", "dock-b"} {
				if err := connect(dock); err != nil {
					t.Fatalf("%s before revocation: %v", dock, err)
				}
			}
			if err := uploadAs("dock-a", tokA, 1); err != nil {
				t.Fatalf("dock-a's upload before revocation: %v", err)
			}

			ca.Revoke(pairA)
			reload()
			waitFor(t, "dock-a refused at connect", func() bool { return connect("dock-a") != nil })
			for range 3 { // and stays refused
				if err := connect("dock-a"); err == nil {
					t.Fatal("revoked dock-a connected")
				}
			}
			err := uploadAs("dock-a", tokA, 2)
			var ue *upload.Error
			if err == nil || (errors.As(err, &ue) && ue.Status != http.StatusUnauthorized) {
				t.Errorf("revoked dock-a's upload: %v, want refused (handshake or 401)", err)
			}
			if _, ok, _ := col.Store().Receipt(ctx, "REC-dock-a", 2); ok {
				t.Error("REC-dock-a/2 receipted to a revoked certificate")
			}
			if err := connect("dock-b"); err != nil {
				t.Errorf("dock-b after dock-a's revocation: %v", err)
			}
			if err := uploadAs("dock-b", tokB, 1); err != nil {
				t.Errorf("dock-b's upload after dock-a's revocation: %v", err)
			}
		})
	}
}
