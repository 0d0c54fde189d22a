package server

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// The bandwidth cap holds the upload back: 192 KiB at 256 KiB/s cannot
// finish in less than (192-64 KiB burst)/256 KiB/s = 0.5 s.
func TestClientRateLimit(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(192<<10, 21)
	c := e.client(t, uploader.ClientOpts{RateBytes: 256 << 10, ChunkSize: 64 << 10})
	start := time.Now()
	if _, err := c.Upload(context.Background(), "R1", 1, int64(len(data)), sum, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Fatalf("192 KiB at 256 KiB/s took only %v", d)
	}
}

// Cancelling the ctx of a throttled upload returns at once, retryable, with
// the ctx's error inside, and the next call resumes.
func TestClientCancel(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(1<<20, 22)
	c := e.client(t, uploader.ClientOpts{RateBytes: 512 << 10, ChunkSize: 128 << 10})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(600*time.Millisecond, cancel)
	var done int64
	_, err := c.Upload(ctx, "R1", 1, int64(len(data)), sum, bytes.NewReader(data), func(n int64) { done = n })
	if !errors.Is(err, context.Canceled) || !upload.Retryable(err) {
		t.Fatalf("cancelled upload: %v", err)
	}
	if done == 0 || done >= int64(len(data)) {
		t.Fatalf("cancelled at %d", done)
	}
	var resumed int64 = -1
	fast := e.client(t, uploader.ClientOpts{ChunkSize: 128 << 10})
	r, err := fast.Upload(context.Background(), "R1", 1, int64(len(data)), sum, bytes.NewReader(data), func(n int64) {
		if resumed < 0 {
			resumed = n
		}
	})
	if err != nil || resumed < done {
		t.Fatalf("resume at %d after %d: %v", resumed, done, err)
	}
	if !bytes.Equal(e.object(t, r.ObjectID), data) {
		t.Fatal("object differs")
	}
}

// A source shorter than the size the caller claims is the caller's error.
func TestClientShortSource(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(1000, 23)
	_, err := e.client(t, uploader.ClientOpts{}).Upload(context.Background(), "R1", 1, 2000, sum, bytes.NewReader(data), nil)
	if !errors.Is(err, upload.ErrArgument) {
		t.Fatalf("short source: %v", err)
	}
	if len(e.objects()) != 0 {
		t.Fatal("stored")
	}
}
