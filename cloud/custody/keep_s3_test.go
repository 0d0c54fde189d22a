package custody_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
)

// TestKeeperReextends runs the retention job against versitygw with
// objects committed under a 2 s retention: a case link recorded without
// its extension reaching the lock (an object receipted after the link, or
// an extension that failed) gets its policy's date at the first run, and
// a second run changes nothing; a held object whose hold floor (3 s)
// would lapse is re-extended as time passes, so once its commit's
// retention and its hold's floor have both ended it still cannot be
// deleted with the store's own credentials (versitygw lets an expired
// held version go: without the job this delete succeeds), while an
// unheld, unlinked object can.
func TestKeeperReextends(t *testing.T) {
	ctx := context.Background()
	w := newS3World(t, evidence.S3Opts{Mode: evidence.Governance, Retention: 2 * time.Second})
	srv, o, ev, st, quiet := w.srv, w.o, w.ev, w.st, w.quiet
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	sup := store.Actor{Name: "chief-wang", Role: "supervisor"}

	// Recorded a year ago less 40 s: the default policy keeps it 40 s more.
	start := time.Now().Add(-evidence.MinRetention + 40*time.Second).UTC().Truncate(time.Second)
	linked := segmentAt(t, st, ev, key, 1, []byte("footage of a disputed stop"), start)
	if err := st.LinkCase(ctx, store.CaseLink{Serial: "R1", Seq: 1, Case: "2026-cpl-3", Type: "complaint", By: sup,
		Reason: "complaint filed"}); err != nil {
		t.Fatal(err)
	}
	held := commit(t, ev, []byte("footage tied to a lawsuit"))
	free := commit(t, ev, []byte("footage of nothing in particular"))
	// The floor is 6 s and Renew 2 s: a run extends a held lock once
	// less than 2 s of it is left, so the first two runs below have 4 s
	// to finish before the held lock is due again (3 s floors flaked on a
	// loaded CI machine: the second run found it due).
	h := custody.Holds{Store: st, Evidence: ev, Floor: 6 * time.Second}
	if _, err := h.Set(ctx, sup, held.Ref(), "lawsuit 2026-civ-17"); err != nil {
		t.Fatal(err)
	}
	heldFloor, err := ev.Lock(ctx, held.Ref())
	if err != nil {
		t.Fatal(err)
	}

	k := custody.Keeper{Store: st, Evidence: ev, Floor: 6 * time.Second, Renew: 2 * time.Second, Log: quiet}
	rep, err := k.Apply(ctx)
	if err != nil || rep.How != custody.ByObjectStore || rep.Held != 1 || rep.Linked != 1 || rep.Extended != 1 {
		t.Fatalf("first run: %+v %v", rep, err)
	}
	want := start.Add(evidence.MinRetention)
	l, err := ev.Lock(ctx, linked.ObjectID)
	if err != nil || l.RetainUntil.Before(want.Add(-time.Second)) {
		t.Fatalf("linked object's lock %+v %v: want retained until %s", l, err, want)
	}
	if rep, err := k.Apply(ctx); err != nil || rep.Extended != 0 {
		t.Fatalf("second run changed something: %+v %v", rep, err)
	}

	// The job runs as serve runs it, while time passes.
	jobCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); k.Run(jobCtx, 300*time.Millisecond) }()
	defer func() { stop(); <-done }()

	c := srv.Client(t)
	del := func(ref string) error {
		id, version, _ := evidence.ParseRef(ref)
		return c.RemoveObject(ctx, o.Bucket, "objects/"+id, minio.RemoveObjectOptions{VersionID: version})
	}
	deadline := time.Now().Add(time.Minute)
	for del(free.Ref()) != nil { // the commit's retention has ended once this goes through
		if time.Now().After(deadline) {
			t.Fatal("the unheld version's retention did not end")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Past the hold's first floor too.
	time.Sleep(time.Until(heldFloor.RetainUntil.Add(1500 * time.Millisecond)))
	if err := del(held.Ref()); err == nil {
		t.Fatal("the held version was deleted after its commit's retention and its hold's floor ended")
	}
	if l, err := ev.Lock(ctx, held.Ref()); err != nil || !l.RetainUntil.After(time.Now()) || !l.LegalHold {
		t.Fatalf("held version's lock %+v %v: want held and retained past now", l, err)
	}
	if err := del(linked.ObjectID); err == nil {
		t.Fatal("the linked version was deleted before its policy's date")
	}
}
