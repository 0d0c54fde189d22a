package uploader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

type fakeBuf struct {
	mu       sync.Mutex
	pending  []buffer.Pending
	uploaded map[uint64]wire.Receipt
}

func (b *fakeBuf) PendingUpload(limit int) ([]buffer.Pending, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []buffer.Pending
	for _, p := range b.pending {
		if _, ok := b.uploaded[p.Seq]; !ok && len(out) < limit {
			out = append(out, p)
		}
	}
	return out, nil
}
func (b *fakeBuf) Open(serial string, seq uint64) (io.ReaderAt, error) {
	return bytes.NewReader(make([]byte, 10)), nil
}
func (b *fakeBuf) MarkUploaded(serial string, seq uint64, r wire.Receipt) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.uploaded[seq] = r
	return nil
}

type flakyClient struct {
	mu    sync.Mutex
	fails int
	order []uint64
	lie   bool
}

func (c *flakyClient) Upload(ctx context.Context, device string, seq uint64, size int64, sha string, src io.ReaderAt, progress func(int64)) (wire.Receipt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fails > 0 {
		c.fails--
		return wire.Receipt{}, errors.New("collector unreachable")
	}
	c.order = append(c.order, seq)
	progress(size)
	if c.lie {
		// A receipt naming another hash: the Client's verification
		// refuses it, as HTTPClient.Upload does.
		return wire.Receipt{}, fmt.Errorf("%w: %w: names %s/%d 00, not %s", upload.ErrBadReceipt, wire.ErrReceipt, device, seq, sha)
	}
	return wire.Receipt{Device: device, Seq: seq, SHA256: sha, Size: size}, nil
}

func TestUploadsInOrderAfterFailures(t *testing.T) {
	buf := &fakeBuf{uploaded: map[uint64]wire.Receipt{}, pending: []buffer.Pending{
		{Serial: "R1", Seq: 7, Size: 10, SHA256: "aa"}, {Serial: "R1", Seq: 3, Size: 10, SHA256: "bb"}}}
	client := &flakyClient{fails: 1}
	got := make(chan uint64, 2)
	clk := clockwork.NewFakeClock()
	u := New(buf, client, func(p buffer.Pending, r wire.Receipt) { got <- p.Seq }, clk, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- u.Run(ctx) }()
	// The first pass fails; the uploader waits out its backoff (at most
	// 1.5 s for the first retry) on the clock, which the test drives.
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
	if err := clk.BlockUntilContext(bctx, 1); err != nil {
		t.Fatalf("the uploader is not waiting out a backoff: %v", err)
	}
	bcancel()
	clk.Advance(2 * time.Second)
	for _, want := range []uint64{7, 3} { // the buffer's order, after one failed try and a backoff
		select {
		case seq := <-got:
			if seq != want {
				t.Fatalf("receipt for %d, want %d", seq, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no receipt")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.Progress(); err != nil {
		t.Fatalf("last error kept after success: %v", err)
	}
}

func TestReceiptForAnotherSegmentNotRecorded(t *testing.T) {
	buf := &fakeBuf{uploaded: map[uint64]wire.Receipt{}, pending: []buffer.Pending{{Serial: "R1", Seq: 1, Size: 10, SHA256: "aa"}}}
	u := New(buf, &flakyClient{lie: true}, nil, nil, slog.New(slog.DiscardHandler))
	if err := u.pass(context.Background()); err != nil {
		t.Fatalf("pass: %v (a segment's own fault parks it)", err)
	}
	if len(buf.uploaded) != 0 {
		t.Fatal("a receipt naming another hash was recorded as uploaded")
	}
	if _, _, err := u.Progress(); !errors.Is(err, upload.ErrBadReceipt) {
		t.Fatalf("last error %v, want the foreign receipt", err)
	}
	if !u.parkedNow()[segKey{"R1", 1}] {
		t.Fatal("the segment with the foreign receipt is not parked")
	}
}

// refusingClient refuses one segment for reasons of its own (a receipt
// conflict at the collector) and uploads the others.
type refusingClient struct {
	flakyClient
	refuse uint64
}

func (c *refusingClient) Upload(ctx context.Context, device string, seq uint64, size int64, sha string, src io.ReaderAt, progress func(int64)) (wire.Receipt, error) {
	if seq == c.refuse {
		return wire.Receipt{}, fmt.Errorf("%w: 409 receipt_conflict", upload.ErrRejected)
	}
	return c.flakyClient.Upload(ctx, device, seq, size, sha, src, progress)
}

func TestRefusedSegmentDoesNotBlockTheQueue(t *testing.T) {
	buf := &fakeBuf{uploaded: map[uint64]wire.Receipt{}, pending: []buffer.Pending{
		{Serial: "R1", Seq: 1, Size: 10, SHA256: "aa"}, {Serial: "R1", Seq: 2, Size: 10, SHA256: "bb"}, {Serial: "R1", Seq: 3, Size: 10, SHA256: "cc"}}}
	client := &refusingClient{refuse: 1}
	u := New(buf, client, nil, nil, slog.New(slog.DiscardHandler))
	if err := u.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := buf.uploaded[1]; ok || len(buf.uploaded) != 2 {
		t.Fatalf("uploaded %v, want 2 and 3 behind the refused 1", buf.uploaded)
	}
	// The next pass leaves the parked segment alone.
	client.mu.Lock()
	client.order = nil
	client.mu.Unlock()
	if err := u.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(client.order) != 0 {
		t.Fatalf("second pass tried %v", client.order)
	}
}

func TestUnreachableCollectorEndsThePass(t *testing.T) {
	buf := &fakeBuf{uploaded: map[uint64]wire.Receipt{}, pending: []buffer.Pending{
		{Serial: "R1", Seq: 1, Size: 10, SHA256: "aa"}, {Serial: "R1", Seq: 2, Size: 10, SHA256: "bb"}}}
	u := New(buf, &flakyClient{fails: 5}, nil, nil, slog.New(slog.DiscardHandler))
	if err := u.pass(context.Background()); err == nil {
		t.Fatal("an unreachable collector did not end the pass")
	}
	if len(u.parkedNow()) != 0 {
		t.Fatal("a segment was parked because the collector was unreachable")
	}
}
