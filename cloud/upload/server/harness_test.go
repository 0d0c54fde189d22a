package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/evidence/s3test"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/store/pgtest"
	"github.com/berthdock/berth/cloud/wire/upload"
)

const (
	testDock  = "dock-1"
	testToken = "dock-1-token-0123456789"
	otherDock = "dock-2"
	otherTok  = "dock-2-token-0123456789"
)

func quietLogger() *slog.Logger {
	if os.Getenv("BERTH_UPLOAD_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// env is one collector: a real store, an evidence store (a directory, or a
// bucket on a real S3 server when s3 is set), a signing key and the
// endpoint on a loopback HTTP server.
type env struct {
	t        testing.TB
	dsn      string
	schema   string
	evDir    string
	s3       *evidence.S3Opts // the S3 backend's options; nil: the directory backend
	st       *store.Store
	ev       evidence.Store
	key      ed25519.PrivateKey
	pub      ed25519.PublicKey
	reg      *prometheus.Registry
	srv      *Server
	http     *httptest.Server
	maxChunk int64
}

type backend struct{ dsn, schema string }

func sqliteBackend(t testing.TB) backend {
	return backend{dsn: "sqlite://" + filepath.Join(t.TempDir(), "collector.db")}
}

// pgBackend is a fresh schema on the test PostgreSQL (pgtest.Schema).
func pgBackend(t testing.TB) backend {
	t.Helper()
	return backend{dsn: pgtest.DSN(), schema: pgtest.Schema(t, "berth_upload")}
}

func newEnv(t testing.TB, b backend, maxChunk int64) *env {
	t.Helper()
	return newEnvOn(t, b, maxChunk, nil)
}

// newS3Env is newEnv with the evidence in a new bucket on a real S3 server
// (skipped as s3test.Start says).
func newS3Env(t testing.TB, b backend, maxChunk int64) *env {
	t.Helper()
	o := s3test.Start(t).Opts(evidence.S3Opts{})
	return newEnvOn(t, b, maxChunk, &o)
}

func newEnvOn(t testing.TB, b backend, maxChunk int64, s3 *evidence.S3Opts) *env {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dsn: b.dsn, schema: b.schema, evDir: t.TempDir(), s3: s3, key: key, pub: pub, maxChunk: maxChunk}
	e.start()
	ctx := context.Background()
	if err := e.st.EnrollDock(ctx, testDock, "unit-1", testToken); err != nil {
		t.Fatal(err)
	}
	if err := e.st.EnrollDock(ctx, otherDock, "unit-1", otherTok); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.stop)
	return e
}

// start opens the store, the evidence store and the endpoint (again, after
// stop: a restarted collector on the same database and directory).
func (e *env) start() {
	t := e.t
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, e.dsn, &store.Opts{Schema: e.schema, Logger: quietLogger(), MaxConns: 4})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	var ev evidence.Store
	if e.s3 != nil {
		ev, err = evidence.OpenS3(ctx, *e.s3)
	} else {
		ev, err = evidence.OpenFS(e.evDir, quietLogger())
	}
	if err != nil {
		t.Fatal(err)
	}
	e.st, e.ev, e.reg = st, ev, prometheus.NewPedanticRegistry()
	e.srv, err = New(Opts{Store: st, Evidence: ev, Key: e.key, Logger: quietLogger(), Registry: e.reg, MaxChunk: e.maxChunk})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(upload.PathPrefix, e.srv)
	mux.Handle(upload.PathPrefix+"/", e.srv)
	e.http = httptest.NewServer(mux)
}

func (e *env) stop() {
	if e.http == nil {
		return
	}
	e.http.CloseClientConnections()
	e.http.Close()
	e.st.Close()
	e.http = nil
}

func (e *env) restart() {
	e.stop()
	e.start()
}

func (e *env) client(t testing.TB, o uploader.ClientOpts) *uploader.HTTPClient {
	t.Helper()
	if o.BaseURL == "" {
		o.BaseURL = e.http.URL
	}
	if o.Dock == "" {
		o.Dock, o.Token = testDock, testToken
	}
	if o.CollectorKey == nil {
		o.CollectorKey = e.pub
	}
	c, err := uploader.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) rejections(r upload.Reason) float64 {
	return counterValue(e.srv.m.rejections.WithLabelValues(string(r)))
}

func (e *env) totalRejections() float64 {
	var n float64
	for _, r := range upload.Reasons {
		n += e.rejections(r)
	}
	return n
}

func (e *env) receipts(outcome string) float64 {
	return counterValue(e.srv.m.receipts.WithLabelValues(outcome))
}

// objects lists the object files under the evidence directory.
func (e *env) objects() []string {
	var out []string
	filepath.WalkDir(filepath.Join(e.evDir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, d.Name())
		}
		return nil
	})
	return out
}

// stagings lists the staging areas.
func (e *env) stagings() []string {
	ents, _ := os.ReadDir(filepath.Join(e.evDir, "staging"))
	var out []string
	for _, d := range ents {
		out = append(out, d.Name())
	}
	return out
}

// receiptRows counts the receipts rows of device/seq straight from the
// database, not through the Store.
func (e *env) receiptRows(device string, seq uint64) int {
	e.t.Helper()
	var db *sql.DB
	var err error
	q := `SELECT COUNT(*) FROM receipts WHERE device = ? AND seq = ?`
	if e.schema != "" {
		cfg, perr := pgx.ParseConfig(e.dsn)
		if perr != nil {
			e.t.Fatal(perr)
		}
		db = stdlib.OpenDB(*cfg)
		q = `SELECT COUNT(*) FROM ` + pgx.Identifier{e.schema, "receipts"}.Sanitize() + ` WHERE device = $1 AND seq = $2`
	} else {
		db, err = sql.Open("sqlite", "file:"+filepath.Clean(e.dsn[len("sqlite://"):]))
		if err != nil {
			e.t.Fatal(err)
		}
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(q, device, int64(seq)).Scan(&n); err != nil {
		e.t.Fatalf("count receipts: %v", err)
	}
	return n
}

func (e *env) object(t testing.TB, id string) []byte {
	t.Helper()
	r, err := e.ev.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func payload(n int, seed uint64) ([]byte, string) {
	r := mrand.New(mrand.NewPCG(seed, 11))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// counterValue reads a counter (testutil would need a module not in go.sum).
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
