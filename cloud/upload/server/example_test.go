package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/upload/server"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// A collector endpoint and a dock uploading one segment to it.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "upload-example")
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Collector side (cmd/collector): store, evidence directory, key, metrics.
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "collector.db"), &store.Opts{Logger: log})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	if err := st.EnrollDock(ctx, "dock-7", "unit-3", "dock-7-secret-token"); err != nil {
		panic(err)
	}
	ev, err := evidence.OpenFS(filepath.Join(dir, "evidence"), log)
	if err != nil {
		panic(err)
	}
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	srv, err := server.New(server.Opts{Store: st, Evidence: ev, Key: key, Logger: log, Registry: prometheus.NewRegistry()})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle(upload.PathPrefix, srv)
	mux.Handle(upload.PathPrefix+"/", srv)
	hs := httptest.NewServer(mux) // production: http.Server with TLS
	defer hs.Close()

	// Dock side (dockd): the client the uploader drives.
	c, err := uploader.NewClient(uploader.ClientOpts{BaseURL: hs.URL, Dock: "dock-7", Token: "dock-7-secret-token",
		CollectorKey: pub, RateBytes: 0})
	if err != nil {
		panic(err)
	}
	footage := bytes.Repeat([]byte("H.264 "), 100_000)
	sum := sha256.Sum256(footage)
	r, err := c.Upload(ctx, "BWC-0042", 17, int64(len(footage)), hex.EncodeToString(sum[:]), bytes.NewReader(footage), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Device, r.Seq, r.Size, r.ObjectID == hex.EncodeToString(sum[:]))
	fmt.Println(r.Verify(pub, "BWC-0042", 17, hex.EncodeToString(sum[:]), int64(len(footage))))
	// Output:
	// BWC-0042 17 600000 true
	// <nil>
}
