package custody_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
)

// TestHeldObjectSurvivesRetentionEnd: two versions committed with a short
// retention; one is put on legal hold. Once the commit's retention has
// ended, the unheld one can be deleted with the store's own credentials
// (so the retention really ended), the held one cannot, and reads back
// unchanged.
func TestHeldObjectSurvivesRetentionEnd(t *testing.T) {
	ctx := context.Background()
	w := newS3World(t, evidence.S3Opts{Mode: evidence.Governance, Retention: 2 * time.Second})
	srv, o, ev, st := w.srv, w.o, w.ev, w.st
	held := commit(t, ev, []byte("footage tied to a lawsuit"))
	free := commit(t, ev, []byte("footage of nothing in particular"))
	start, err := ev.Lock(ctx, held.Ref())
	if err != nil {
		t.Fatal(err)
	}
	h := custody.Holds{Store: st, Evidence: ev, Floor: time.Hour}
	if _, err := h.Set(ctx, store.Actor{Name: "chief-wang", Role: "supervisor"}, held.Ref(), "lawsuit 2026-civ-17"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	c := srv.Client(t)
	del := func(obj evidence.Object) error {
		return c.RemoveObject(ctx, o.Bucket, "objects/"+obj.ID, minio.RemoveObjectOptions{VersionID: obj.Version})
	}
	// Wait (polling the server) until the unheld version's retention has
	// ended: its deletion then goes through.
	for del(free) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the unheld version's retention did not end")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !time.Now().After(start.RetainUntil) {
		t.Fatalf("deleted before the commit's retention (%s) ended", start.RetainUntil)
	}
	if err := del(held); err == nil {
		t.Fatal("the held version was deleted after its commit's retention ended")
	}
	r, err := ev.Open(ctx, held.Ref())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, []byte("footage tied to a lawsuit")) {
		t.Fatalf("the held version reads back %q, %v", got, err)
	}
}
