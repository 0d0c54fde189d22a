package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// Two docks holding the same recorder's segment (it was moved before its
// release), and one dock racing itself, all end with the same object and
// the one stored receipt.
func TestConcurrentSameSegment(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(2<<20+3, 31)
	clients := []*uploader.HTTPClient{
		e.client(t, uploader.ClientOpts{ChunkSize: 128 << 10}),
		e.client(t, uploader.ClientOpts{ChunkSize: 192 << 10}),
		e.client(t, uploader.ClientOpts{Dock: otherDock, Token: otherTok, ChunkSize: 256 << 10}),
	}
	var wg sync.WaitGroup
	got := make([]wire.Receipt, len(clients))
	errs := make([]error, len(clients))
	for i, c := range clients {
		wg.Go(func() {
			for range 5 { // a racing twin may make one attempt give up; the uploader retries
				got[i], errs[i] = c.Upload(context.Background(), "R1", 9, int64(len(data)), sum, bytes.NewReader(data), nil)
				if errs[i] == nil || !upload.Retryable(errs[i]) {
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range clients {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("client %d: %+v %v; client 0: %+v", i, got[i], errs[i], got[0])
		}
	}
	if !bytes.Equal(e.object(t, sum), data) || len(e.objects()) != 1 || e.receiptRows("R1", 9) != 1 {
		t.Fatalf("objects %v receipts %d", e.objects(), e.receiptRows("R1", 9))
	}
}

// A connection that stalls mid-chunk holds its upload only until the chunk
// timeout; the dock's resumed connection then proceeds.
func TestStalledChunkReleasesUpload(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	// Rebuild the endpoint with a short chunk timeout on the same parts.
	srv, err := New(Opts{Store: e.st, Evidence: e.ev, Key: e.key, Logger: quietLogger(),
		Registry: prometheus.NewRegistry(), ChunkTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.http.Config.Handler = srv
	data, sum := payload(100_000, 32)
	id := e.begin(t, "R1", 1, int64(len(data)), sum)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH %s/%s HTTP/1.1\r\nHost: x\r\n%s: %s\r\nAuthorization: Bearer %s\r\n%s: 0\r\n%s: %s\r\nContent-Length: %d\r\n\r\n",
		upload.PathPrefix, id, upload.HeaderDock, testDock, testToken, upload.HeaderOffset, upload.HeaderChunkSHA256,
		hexSum(data), len(data))
	conn.Write(data[:1000]) // and then nothing: the dock's link died without a FIN
	time.Sleep(50 * time.Millisecond)

	start := time.Now()
	r, err := e.client(t, uploader.ClientOpts{}).Upload(context.Background(), "R1", 1, int64(len(data)), sum, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("resumed upload waited %v", d)
	}
	if !bytes.Equal(e.object(t, r.ObjectID), data) || e.rejections(upload.ReasonIncompleteChunk) != 1 {
		t.Fatalf("incomplete chunks counted %v", e.rejections(upload.ReasonIncompleteChunk))
	}
}
