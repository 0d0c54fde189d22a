package dock_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/pki/pkitest"
	"github.com/berthdock/berth/cloud/store/pgtest"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// needService skips when a real service is absent, unless CI demands it.
func needService(t *testing.T, name, addr, demand string) {
	t.Helper()
	if reachable(addr) {
		return
	}
	if os.Getenv(demand) != "" {
		t.Fatalf("%s at %s is required (%s is set) but not reachable", name, addr, demand)
	}
	t.Skipf("%s at %s not reachable (set %s to require it)", name, addr, demand)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startE2E starts the test world: a collector on the broker and store of
// the kind asked for, nrec generated recorders and a dock.
func startE2E(t *testing.T, brokerKind, dbKind string, nrec int) *testworld.World {
	t.Helper()
	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dockID := "e2e-" + randHex(4)
	var recs []*recsim.Recorder
	for i := range nrec {
		r, err := recsim.Generate(uint64(100+i), &recsim.GenOpts{Segments: 4, MinSize: 64 << 10, MaxSize: 300 << 10,
			Start: time.Now().Add(-6 * time.Hour)}, &recsim.Config{Serial: fmt.Sprintf("E2E-%s-%d", dockID[4:], i)})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	var mqttAddr, dsn string
	var mtls func(*collector.Config)
	var dockTLS func(*dock.Config)
	switch brokerKind {
	case "embedded-mtls":
		// The collector's embedded broker on a mutual-TLS listener and an
		// HTTPS upload endpoint requiring client certificates; the dock
		// connects and uploads with its certificate (dockd's tls:).
		ca := pkitest.New(t)
		srv, cert := ca.Server(), ca.Dock(dockID)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		mtls = func(cc *collector.Config) {
			cc.TLSCert, cc.TLSKey, cc.ClientCA, cc.MQTT.EmbeddedTLS = srv.Cert, srv.Key, ca.CAFile, addr
		}
		dockTLS = func(dc *dock.Config) {
			dc.TLS.CAFile, dc.TLS.CertFile, dc.TLS.KeyFile = ca.CAFile, cert.Cert, cert.Key
			dc.MQTT.Broker = "ssl://" + addr
		}
	case "mosquitto":
		mqttAddr = envOr("BERTH_MQTT_ADDR", "127.0.0.1:1883")
		needService(t, "Mosquitto", mqttAddr, "BERTH_REQUIRE_MQTT")
	}
	schema := ""
	if dbKind == "postgres" {
		dsn, schema = pgtest.DSN(), pgtest.Schema(t, "e2e")
	}
	w, err := testworld.Start(context.Background(), testworld.Config{Dir: t.TempDir(), Log: log, DockID: dockID, Unit: "unit-e2e",
		Version: "e2e", Recorders: recs,
		Collector: func(cc *collector.Config) {
			if mqttAddr != "" {
				// The broker is shared with other tests: a group and a
				// filter of this test's own.
				cc.MQTT.Embedded, cc.MQTT.Broker = "", "tcp://"+mqttAddr
				cc.MQTT.Group = "e2e-" + dockID
				cc.MQTT.Filters = []string{wire.DockTopic(dockID, "#")}
			}
			if dsn != "" {
				cc.Store, cc.Schema = dsn, schema
			}
			if mtls != nil {
				mtls(cc)
			}
		},
		Dock: dockTLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	return w
}

func TestEndToEnd(t *testing.T) {
	for _, brokerKind := range []string{"embedded", "mosquitto"} {
		for _, dbKind := range []string{"sqlite", "postgres"} {
			t.Run(brokerKind+"/"+dbKind, func(t *testing.T) { endToEnd(t, brokerKind, dbKind) })
		}
	}
}

// A dock with its client certificate reports and uploads everything over
// mutual TLS (embedded broker's TLS listener, HTTPS upload endpoint).
func TestEndToEndMutualTLS(t *testing.T) { endToEnd(t, "embedded-mtls", "sqlite") }

func endToEnd(t *testing.T, brokerKind, dbKind string) {
	const nrec = 3
	w := startE2E(t, brokerKind, dbKind, nrec)
	if err := w.DockAll(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.WaitSettled(ctx, 90*time.Second, 0); err != nil {
		t.Fatal(err)
	}
	cs := w.Col.Store()
	// The evidence store holds each recorder's original bytes, every
	// receipt verifies, and every release came after its receipt.
	tally, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tally.Problems {
		t.Error(p)
	}
	t.Log(tally)
	if !tally.Zero() || tally.Segments != 4*nrec || tally.Released != tally.Segments || tally.Objects != tally.Segments {
		t.Errorf("%v; want %d segments, each stored and released", tally, 4*nrec)
	}
	for _, rec := range w.Recs.Recorders() {
		if held := rec.Segments(); len(held) != 0 {
			t.Errorf("%s still holds %d segments after a clean docking", rec.Serial(), len(held))
		}
		segs, err := cs.Segments(ctx, rec.Serial(), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) != len(w.Orig[rec.Serial()]) {
			t.Fatalf("%s: collector holds %d segment manifests, want %d", rec.Serial(), len(segs), len(w.Orig[rec.Serial()]))
		}
		for _, g := range segs {
			if g.State != wire.SegReleased {
				t.Errorf("%s/%d: collector has state %q, want %q", g.Serial, g.Seq, g.State, wire.SegReleased)
			}
		}
	}
	devs, err := cs.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range devs {
		seen[d.Serial] = true
	}
	for _, rec := range w.Recs.Recorders() {
		if !seen[rec.Serial()] {
			t.Errorf("collector has no health of %s", rec.Serial())
		}
		h, err := cs.DeviceHealth(ctx, rec.Serial(), time.Time{}, time.Time{})
		if err != nil || len(h) == 0 {
			t.Errorf("%s: %d health records (%v)", rec.Serial(), len(h), err)
		}
	}
}
