package server

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// both runs fn against the SQLite store and the PostgreSQL store.
func both(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, sqliteBackend(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, pgBackend(t)) })
}

func TestHappyPath(t *testing.T) {
	both(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, 0)
		c := e.client(t, uploader.ClientOpts{ChunkSize: 1 << 20})
		data, sum := payload(5<<20+12345, 1)
		ctx := context.Background()
		var last int64
		r, err := c.Upload(ctx, "R1", 7, int64(len(data)), sum, bytes.NewReader(data), func(done int64) {
			if done < last {
				t.Errorf("progress went back from %d to %d", last, done)
			}
			last = done
		})
		if err != nil {
			t.Fatal(err)
		}
		if last != int64(len(data)) {
			t.Fatalf("last progress %d", last)
		}
		if err := r.Verify(e.pub, "R1", 7, sum, int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if r.ObjectID != sum {
			t.Fatalf("object id %s, want the hash %s", r.ObjectID, sum)
		}
		if !bytes.Equal(e.object(t, r.ObjectID), data) {
			t.Fatal("stored object differs from the upload")
		}
		stored, ok, err := e.st.Receipt(ctx, "R1", 7)
		if err != nil || !ok || stored != r {
			t.Fatalf("store holds %+v %v %v, client got %+v", stored, ok, err, r)
		}
		if s := e.stagings(); len(s) != 0 {
			t.Fatalf("staging left: %v", s)
		}

		// The same footage again: the stored receipt, nothing uploaded.
		again, err := c.Upload(ctx, "R1", 7, int64(len(data)), sum, bytes.NewReader(data), nil)
		if err != nil || again != r {
			t.Fatalf("second upload: %+v, %v; want %+v", again, err, r)
		}
		// The same bytes as another segment: the same object, its own receipt.
		other, err := c.Upload(ctx, "R2", 1, int64(len(data)), sum, bytes.NewReader(data), nil)
		if err != nil || other.ObjectID != r.ObjectID || other.Device != "R2" {
			t.Fatalf("dedup upload: %+v, %v", other, err)
		}
		if objs := e.objects(); !slices.Equal(objs, []string{sum}) {
			t.Fatalf("objects %v, want exactly one", objs)
		}
		if e.receiptRows("R1", 7) != 1 || e.receiptRows("R2", 1) != 1 {
			t.Fatal("receipt rows")
		}
		if e.receipts(outcomeIssued) != 1 || e.receipts(outcomeExisting) != 1 || e.receipts(outcomeDedup) != 1 {
			t.Fatalf("receipt counters issued %v existing %v dedup %v", e.receipts(outcomeIssued),
				e.receipts(outcomeExisting), e.receipts(outcomeDedup))
		}
		if n := e.totalRejections(); n != 0 {
			t.Fatalf("%v rejections on the happy path", n)
		}
		// An empty segment is legal footage metadata-wise: one empty object.
		empty, err := c.Upload(ctx, "R1", 8, 0, hexSum(nil), bytes.NewReader(nil), nil)
		if err != nil || empty.Size != 0 {
			t.Fatalf("empty upload: %+v, %v", empty, err)
		}
	})
}

func TestClientRejectsForeignReceipt(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(1000, 2)
	ctx := context.Background()
	if _, err := e.client(t, uploader.ClientOpts{}).Upload(ctx, "R1", 1, 1000, sum, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	// A client that trusts another collector key refuses the receipt.
	other := make([]byte, 32)
	other[0] = 1
	bad, err := uploader.NewClient(uploader.ClientOpts{BaseURL: e.http.URL, Dock: testDock, Token: testToken,
		CollectorKey: other})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Upload(ctx, "R1", 1, 1000, sum, bytes.NewReader(data), nil)
	if !errors.Is(err, upload.ErrBadReceipt) || !errors.Is(err, wire.ErrReceipt) || upload.Retryable(err) {
		t.Fatalf("foreign key: %v", err)
	}
}

func TestClientErrorsAreTyped(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(1000, 3)
	ctx := context.Background()
	wrong := e.client(t, uploader.ClientOpts{Dock: testDock, Token: "not-the-token-at-all"})
	_, err := wrong.Upload(ctx, "R1", 1, 1000, sum, bytes.NewReader(data), nil)
	var ue *upload.Error
	if !errors.As(err, &ue) || ue.Status != 401 || ue.Reason != upload.ReasonUnauthorized ||
		!errors.Is(err, upload.ErrRejected) || upload.Retryable(err) {
		t.Fatalf("wrong token: %v", err)
	}
	// A hash the bytes do not have: permanent, and nothing stored.
	_, err = e.client(t, uploader.ClientOpts{}).Upload(ctx, "R1", 1, 1000, hexSum([]byte("x")), bytes.NewReader(data), nil)
	if !errors.As(err, &ue) || ue.Reason != upload.ReasonHashMismatch || upload.Retryable(err) {
		t.Fatalf("wrong hash: %v", err)
	}
	if len(e.objects()) != 0 || len(e.stagings()) != 0 {
		t.Fatalf("stored after a hash mismatch: objects %v staging %v", e.objects(), e.stagings())
	}
	// A collector that is gone: retryable.
	url := e.http.URL
	e.stop()
	gone, _ := uploader.NewClient(uploader.ClientOpts{BaseURL: url, Dock: testDock, Token: testToken, CollectorKey: e.pub})
	_, err = gone.Upload(ctx, "R1", 1, 1000, sum, bytes.NewReader(data), nil)
	if !upload.Retryable(err) || !errors.Is(err, upload.ErrUnavailable) {
		t.Fatalf("collector down: %v", err)
	}
	// Bad arguments never reach the network.
	for _, tc := range []struct {
		device string
		sum    string
		size   int64
	}{{"../R1", sum, 1000}, {"R1", "ABC", 1000}, {"R1", sum, -1}} {
		if _, err := gone.Upload(ctx, tc.device, 1, tc.size, tc.sum, bytes.NewReader(data), nil); !errors.Is(err, upload.ErrArgument) {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}
