package dock_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/board"
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

// pgAddr is the host:port a PostgreSQL DSN (URL or key=value) names.
func pgAddr(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("BERTH_PG_DSN %q: %v", dsn, err)
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pgSchema makes a fresh schema on the test PostgreSQL and drops it at
// cleanup.
func pgSchema(t *testing.T, dsn string) string {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := "e2e_" + randHex(6)
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	return schema
}

// e2e is one collector, a fleet of recsim recorders and a dock.
type e2e struct {
	col     *collector.Collector
	recs    *recsim.Server
	sys     *dock.System
	dock    string
	objects string              // the evidence store's objects directory
	orig    testworld.Originals // what the recorders held before docking, from their bytes
}

func startE2E(t *testing.T, brokerKind, dbKind string, nrec int) *e2e {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dockID := "e2e-" + randHex(4)
	token := randHex(16)
	dir := t.TempDir()

	var cc collector.Config
	cc.DataDir = filepath.Join(dir, "collector")
	cc.HTTP = "127.0.0.1:0"
	cc.Analysis.Every = time.Hour // analysis is not what this test checks
	cc.Docks = []collector.DockEnrolment{{ID: dockID, Unit: "unit-e2e", Token: token}}
	cc.MQTT.ClientID = "collector-" + dockID
	switch brokerKind {
	case "embedded":
		cc.MQTT.Embedded = "127.0.0.1:0"
	case "mosquitto":
		addr := envOr("BERTH_MQTT_ADDR", "127.0.0.1:1883")
		needService(t, "Mosquitto", addr, "BERTH_REQUIRE_MQTT")
		cc.MQTT.Broker = "tcp://" + addr
		// The broker is shared with other tests: a group and a filter of
		// this test's own.
		cc.MQTT.Group = "e2e-" + dockID
		cc.MQTT.Filters = []string{wire.DockTopic(dockID, "#")}
	}
	if dbKind == "postgres" {
		dsn := envOr("BERTH_PG_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
		needService(t, "PostgreSQL", pgAddr(t, dsn), "BERTH_REQUIRE_PG")
		cc.Store, cc.Schema = dsn, pgSchema(t, dsn)
	}
	col, err := collector.New(ctx, cc, collector.Options{Log: log.With("side", "collector")})
	if err != nil {
		t.Fatal(err)
	}

	var recs []*recsim.Recorder
	enrolled := map[string]string{}
	for i := range nrec {
		r, err := recsim.Generate(uint64(100+i), &recsim.GenOpts{Segments: 4, MinSize: 64 << 10, MaxSize: 300 << 10,
			Start: time.Now().Add(-6 * time.Hour)}, &recsim.Config{Serial: fmt.Sprintf("E2E-%s-%d", dockID[4:], i)})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
		enrolled[r.Serial()] = r.PublicKeyBase64()
	}
	orig, err := testworld.Capture(recs)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := recsim.NewServer(recs, &recsim.ServerOpts{TCP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := board.NewSimSpec("e2e", nrec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := board.Open(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := b.Sim().SetLink(i, srv.Addr(i)); err != nil {
			t.Fatal(err)
		}
	}
	dc := dockConfig(t, filepath.Join(dir, "dock"), dockID, "unit-e2e", col, enrolled, 1<<30)
	dc.StateEvery = 2 * time.Second
	sys, err := dock.Open(dc, dock.OpenOpts{Version: "e2e", Log: log.With("side", "dock"), Board: b, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{col: col, recs: srv, sys: sys, dock: dockID, orig: orig, objects: filepath.Join(cc.DataDir, "evidence", "objects")}
	t.Cleanup(runWorld(t, ctx, cancel, col, srv, sys, false))
	return e
}

// runWorld runs the collector, the recorders and (once ingest is ready)
// the dock under ctx, and returns the stop that cancels ctx, joins them
// and closes everything, once. With labels each part runs under a pprof
// label "side" that follows every goroutine it starts, so a CPU profile
// splits by side (go tool pprof -tags).
func runWorld(tb testing.TB, ctx context.Context, cancel context.CancelFunc, col *collector.Collector,
	srv *recsim.Server, sys *dock.System, labels bool) func() {
	tb.Helper()
	done := make(chan struct{}, 3)
	run := func(f func(context.Context) error, name string) {
		go func() {
			defer func() { done <- struct{}{} }()
			body := func(ctx context.Context) {
				if err := f(ctx); err != nil {
					tb.Errorf("%s: %v", name, err)
				}
			}
			if labels {
				pprof.Do(ctx, pprof.Labels("side", name), body)
			} else {
				body(ctx)
			}
		}()
	}
	run(col.Run, "collector")
	run(srv.Run, "recsim")
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			for range 3 {
				<-done
			}
			sys.Close()
			srv.Close()
			col.Close()
		})
	}
	select {
	case <-col.Ingest().Ready():
	case <-time.After(30 * time.Second):
		done <- struct{}{} // the dock never started
		stop()
		tb.Fatal("ingest not ready")
	}
	run(sys.Dock.Run, "dock")
	return stop
}

// tbWriter sends slog lines to the test log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dockConfig writes a dock's buffer key and enrolled-recorders file under
// ddir and returns its configuration, pointed at the collector col.
func dockConfig(tb testing.TB, ddir, dockID, unit string, col *collector.Collector, enrolled map[string]string, capacity int64) *dock.Config {
	tb.Helper()
	if err := os.MkdirAll(ddir, 0o750); err != nil {
		tb.Fatal(err)
	}
	keyFile := filepath.Join(ddir, "buffer.key")
	if err := buffer.WriteKeyFile(keyFile); err != nil {
		tb.Fatal(err)
	}
	ef := filepath.Join(ddir, "recorders.json")
	eb, err := json.Marshal(enrolled)
	if err == nil {
		err = os.WriteFile(ef, eb, 0o600)
	}
	if err != nil {
		tb.Fatal(err)
	}
	dc := &dock.Config{Dock: dockID, Unit: unit, Board: "(sim)", DataDir: ddir, BufferKeyFile: keyFile,
		BufferCapacity: dock.Size(capacity), EnrolledDevices: ef, StateEvery: 5 * time.Second}
	dc.Collector.URL = col.UploadURL()
	dc.Collector.PublicKey = base64.StdEncoding.EncodeToString(col.PublicKey())
	dc.MQTT.Broker = col.BrokerURL()
	dc.MQTT.AckTimeout = 3 * time.Second
	return dc
}

func TestEndToEnd(t *testing.T) {
	for _, brokerKind := range []string{"embedded", "mosquitto"} {
		for _, dbKind := range []string{"sqlite", "postgres"} {
			t.Run(brokerKind+"/"+dbKind, func(t *testing.T) { endToEnd(t, brokerKind, dbKind) })
		}
	}
}

func endToEnd(t *testing.T, brokerKind, dbKind string) {
	const nrec = 3
	e := startE2E(t, brokerKind, dbKind, nrec)
	for i := range nrec {
		if err := e.sys.Board.Sim().Insert(i); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for every slot to be safe and every report acknowledged.
	deadline := time.Now().Add(90 * time.Second)
	for st := e.sys.Dock.Status(); !testworld.Settled(st); st = e.sys.Dock.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("not settled: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx := context.Background()
	cs := e.col.Store()
	// The dock deletes an outbox entry only on the collector's ack, which
	// follows the commit: the store holds everything now. The evidence
	// store holds each recorder's original bytes, every receipt verifies,
	// and every release came after its receipt.
	tally, err := testworld.Check(ctx, e.col, e.objects, e.recs.Recorders(), e.orig)
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
	for _, rec := range e.recs.Recorders() {
		if held := rec.Segments(); len(held) != 0 {
			t.Errorf("%s still holds %d segments after a clean docking", rec.Serial(), len(held))
		}
		segs, err := cs.Segments(ctx, rec.Serial(), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) != len(e.orig[rec.Serial()]) {
			t.Fatalf("%s: collector holds %d segment manifests, want %d", rec.Serial(), len(segs), len(e.orig[rec.Serial()]))
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
	for _, rec := range e.recs.Recorders() {
		if !seen[rec.Serial()] {
			t.Errorf("collector has no health of %s", rec.Serial())
		}
		h, err := cs.DeviceHealth(ctx, rec.Serial(), time.Time{}, time.Time{})
		if err != nil || len(h) == 0 {
			t.Errorf("%s: %d health records (%v)", rec.Serial(), len(h), err)
		}
	}
}
