package recsim_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/firmware-protocol/conformance"
	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

const fixtureDir = "fixtures/recorder"

// serve runs a Server for recs until the test ends.
func serve(t testing.TB, recs []*recsim.Recorder, opts *recsim.ServerOpts) *recsim.Server {
	t.Helper()
	srv, err := recsim.NewServer(recs, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return srv
}

func load(t testing.TB, cfg *recsim.Config) *recsim.Recorder {
	t.Helper()
	r, err := recsim.Load(fixtureDir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tcpDialer(addr string) conformance.Dialer {
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

// session opens an authenticated client session over TCP.
func session(t testing.TB, addr string, keys docklink.KeyStore) *docklink.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cl := docklink.NewClient(c, &docklink.ClientOpts{DockID: "test-dock", RequestTimeout: 5 * time.Second})
	t.Cleanup(func() { cl.Close() })
	if _, err := cl.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Authenticate(ctx, keys); err != nil {
		t.Fatal(err)
	}
	return cl
}

func keysOf(recs ...*recsim.Recorder) docklink.Keys {
	k := docklink.Keys{}
	for _, r := range recs {
		k[r.Serial()] = r.PublicKey()
	}
	return k
}

func runSuite(t *testing.T, dial conformance.Dialer, opts *conformance.Opts) *conformance.Report {
	t.Helper()
	if opts == nil {
		opts = &conformance.Opts{}
	}
	opts.CheckTimeout = 15 * time.Second
	rep := conformance.Run(context.Background(), dial, opts)
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	return rep
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// pipe serves r on one end of a net.Pipe until the test ends.
func pipe(t testing.TB, r *recsim.Recorder) (dockEnd, devEnd net.Conn) {
	t.Helper()
	dockEnd, devEnd = net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.ServeConn(ctx, devEnd) }()
	t.Cleanup(func() { cancel(); dockEnd.Close(); <-done })
	return dockEnd, devEnd
}

func jsonMarshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

func dial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
