package server

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// twin starts a second collector instance beside e: the same database,
// the same evidence bucket (or directory) and signing key, its own
// endpoint on its own port.
func (e *env) twin(t *testing.T) *env {
	t.Helper()
	f := &env{t: t, dsn: e.dsn, schema: e.schema, evDir: e.evDir, s3: e.s3, key: e.key, pub: e.pub, maxChunk: e.maxChunk}
	f.start()
	t.Cleanup(f.stop)
	return f
}

// stagedAreas lists the evidence store's staging areas, whatever backend.
func (e *env) stagedAreas(t *testing.T) []evidence.StagingArea {
	t.Helper()
	l, ok := e.ev.(stagingLister)
	if !ok {
		t.Fatalf("%T lists no staging areas", e.ev)
	}
	as, err := l.StagingAreas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// On S3 a receipt names the object's version, reads by it give the
// uploaded bytes, and footage uploaded again is receipted on that same
// version (no second copy).
func TestS3ReceiptNamesVersion(t *testing.T) {
	e := newS3Env(t, sqliteBackend(t), 0)
	c := e.client(t, uploader.ClientOpts{ChunkSize: 1 << 20})
	data, sum := payload(3<<20+11, 31)
	r, err := c.Upload(context.Background(), "R1", 1, int64(len(data)), sum, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	id, version, err := evidence.ParseRef(r.ObjectID)
	if err != nil || id != sum || version == "" {
		t.Fatalf("receipt object %q (%v): want %s@<version>", r.ObjectID, err, sum)
	}
	if !bytes.Equal(e.object(t, r.ObjectID), data) {
		t.Fatal("the receipted version reads back other bytes")
	}
	r2, err := c.Upload(context.Background(), "R1", 2, int64(len(data)), sum, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r2.ObjectID != r.ObjectID || e.receipts(outcomeDedup) != 1 {
		t.Fatalf("same footage again: object %s (first %s), dedup receipts %v", r2.ObjectID, r.ObjectID, e.receipts(outcomeDedup))
	}
}

// A dock's upload cut halfway through on one collector is finished by
// another instance: the bucket holds every byte of the upload's state, so
// the second instance resumes at the first one's durable offset, receives
// only the missing bytes, commits and receipts.
func TestS3SecondCollectorFinishesUpload(t *testing.T) {
	both(t, func(t *testing.T, b backend) {
		a := newS3Env(t, b, 0)
		data, sum := payload(3<<20+5, 77)
		size := int64(len(data))
		k := &killer{}
		k.budget.Store(size / 2)
		_, err := a.killingClient(t, k, 256<<10).Upload(context.Background(), "R5", 11, size, sum, bytes.NewReader(data), nil)
		if !upload.Retryable(err) {
			t.Fatalf("first attempt: %v", err)
		}
		staged := a.stagedAreas(t)
		if len(staged) != 1 {
			t.Fatalf("staging %+v", staged)
		}
		st, err := a.ev.Staged(context.Background(), staged[0].ID)
		if err != nil || st.Offset == 0 || st.Offset >= size {
			t.Fatalf("staged %+v %v", st, err)
		}

		bee := a.twin(t)
		var first int64 = -1
		r, err := bee.client(t, uploader.ClientOpts{ChunkSize: 256 << 10}).Upload(context.Background(), "R5", 11, size, sum,
			bytes.NewReader(data), func(done int64) {
				if first < 0 {
					first = done
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		if first != st.Offset {
			t.Fatalf("resumed at %d, the first collector held %d", first, st.Offset)
		}
		if sent := counterValue(bee.srv.m.bytes); sent != float64(size-st.Offset) {
			t.Fatalf("second collector received %v bytes, want only the missing %d", sent, size-st.Offset)
		}
		if !strings.HasPrefix(r.ObjectID, sum+"@") || !bytes.Equal(a.object(t, r.ObjectID), data) || a.receiptRows("R5", 11) != 1 {
			t.Fatalf("object %s or receipt wrong after the hand-over", r.ObjectID)
		}
		if left := a.stagedAreas(t); len(left) != 0 {
			t.Fatalf("staging left after commit: %+v", left)
		}
	})
}
