package server

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// A dock's unfinished uploads are bounded by its staging quota (429,
// retryable, counted); another dock is not held back, and resuming an
// existing upload is always allowed.
func TestStagingQuota(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	e.srv.stagingQuota = 50_000
	_, sum1 := payload(30_000, 51)
	_, sum2 := payload(30_000, 52)
	id := e.begin(t, "R1", 1, 30_000, sum1)
	resp, eb, _ := e.send(t, req{method: "POST", path: upload.PathPrefix, body: createBody("R1", 2, 30_000, sum2)})
	if resp.StatusCode != http.StatusTooManyRequests || eb.Reason != upload.ReasonStagingQuota {
		t.Fatalf("over quota: %d %+v", resp.StatusCode, eb)
	}
	if !(&upload.Error{Status: resp.StatusCode, Reason: eb.Reason}).Retryable() {
		t.Error("a quota refusal must be retryable: the dock finishes its other uploads first")
	}
	if e.rejections(upload.ReasonStagingQuota) != 1 {
		t.Error("not counted")
	}
	if again := e.begin(t, "R1", 1, 30_000, sum1); again != id {
		t.Fatalf("resume got %s, want %s", again, id)
	}
	other := e.client(t, uploader.ClientOpts{Dock: otherDock, Token: otherTok})
	data3, sum3 := payload(30_000, 53)
	if _, err := other.Upload(context.Background(), "R9", 1, 30_000, sum3, bytes.NewReader(data3), nil); err != nil {
		t.Fatalf("another dock held back by dock-1's quota: %v", err)
	}
}

// Sweep discards uploads untouched beyond the TTL, and only those; the
// dock then uploads from the start.
func TestSweepAbandoned(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(30_000, 61)
	e.begin(t, "R1", 1, 30_000, sum)
	e.srv.stagingTTL = time.Hour
	if n, err := e.srv.Sweep(context.Background()); err != nil || n != 0 || len(e.stagings()) != 1 {
		t.Fatalf("fresh upload swept: %d %v %v", n, err, e.stagings())
	}
	e.srv.stagingTTL = time.Nanosecond
	time.Sleep(10 * time.Millisecond)
	if n, err := e.srv.Sweep(context.Background()); err != nil || n != 1 || len(e.stagings()) != 0 {
		t.Fatalf("abandoned upload kept: %d %v %v", n, err, e.stagings())
	}
	if counterValue(e.srv.m.swept) != 1 {
		t.Error("sweep not counted")
	}
	if _, err := e.client(t, uploader.ClientOpts{}).Upload(context.Background(), "R1", 1, 30_000, sum, bytes.NewReader(data), nil); err != nil {
		t.Fatalf("upload after the sweep: %v", err)
	}
}
