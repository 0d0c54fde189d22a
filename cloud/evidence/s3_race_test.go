package evidence_test

import (
	"bytes"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/evidence/s3test"
)

// heldPart is a transport that holds the first part upload (PUT with
// partNumber) until released, so a test can interleave two instances'
// appends exactly.
type heldPart struct {
	once    sync.Once
	arrived chan struct{}
	release chan struct{}
}

func (h *heldPart) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
		h.once.Do(func() {
			close(h.arrived)
			<-h.release
		})
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Two collector instances write the same part of one upload (S3 keeps the
// last write of a part and has no conditional part upload): A appends
// 8 MiB at 0 and answers "durable to 8 MiB"; B, which read the area before
// A wrote, then overwrites part 1 with its own 6 MiB chunk at 0. This is
// the race the S3 backend leaves to the protocol instead of fencing it
// (fencing would cost a claim object per chunk and an expiry for a
// claimer that crashed), and this test is why that is safe:
//   - the area's durable offset is what the server holds, B's 6 MiB: a
//     part counts only while its state object names the ETag the server
//     has for it, so A's state no longer counts;
//   - the dock, continuing at A's 8 MiB, is refused with the durable
//     offset (ErrOffset, 409 offset_conflict with the offset on the wire),
//     and resends from 6 MiB (the uploader's resync);
//   - the object committed is the dock's bytes, checked against the whole
//     SHA-256 before the upload is completed. A receipt comes only then,
//     and the dock holds the footage until it has one, so the overstated
//     8 MiB never costs a byte.
func TestS3RacingPartWritesResync(t *testing.T) {
	srv := s3test.Start(t)
	o := srv.Opts(evidence.S3Opts{})
	a := srv.Open(t, o)
	hold := &heldPart{arrived: make(chan struct{}), release: make(chan struct{})}
	ob := o
	ob.Transport = hold
	b := srv.Open(t, ob)
	data, sum := payload(12<<20+3, 41)
	if _, err := a.Begin(ctx, sid, int64(len(data)), sum, nil); err != nil {
		t.Fatal(err)
	}
	var bEnd int64
	var bErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		bEnd, bErr = appendBytes(b, sid, 0, data[:6<<20])
	}()
	<-hold.arrived // B has read the area (offset 0) and is sending part 1
	aEnd, err := appendBytes(a, sid, 0, data[:8<<20])
	if err != nil || aEnd != 8<<20 {
		t.Fatalf("A's append: %d %v", aEnd, err)
	}
	close(hold.release)
	<-done
	if bErr != nil || bEnd != 6<<20 {
		t.Fatalf("B's append over A's part: %d %v", bEnd, bErr)
	}
	if st, err := a.Staged(ctx, sid); err != nil || st.Offset != 6<<20 {
		t.Fatalf("after the race: %+v %v; want the last writer's 6 MiB durable", st, err)
	}
	// The dock goes on where A said; the collector names the durable end.
	end, err := appendBytes(a, sid, 8<<20, data[8<<20:])
	if !errors.Is(err, evidence.ErrOffset) || end != 6<<20 {
		t.Fatalf("append at the overstated offset: %d %v; want ErrOffset at 6 MiB", end, err)
	}
	if _, err := a.Commit(ctx, sid, sum, int64(len(data))); !errors.Is(err, evidence.ErrSizeMismatch) {
		t.Fatalf("commit short of the end: %v", err)
	}
	// The dock resyncs at 6 MiB, on either instance.
	if end, err := appendBytes(b, sid, 6<<20, data[6<<20:]); err != nil || end != int64(len(data)) {
		t.Fatalf("resent from the durable offset: %d %v", end, err)
	}
	obj, err := a.Commit(ctx, sid, sum, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, a, obj.Ref()); !bytes.Equal(got, data) {
		t.Fatal("the committed object is not the dock's bytes")
	}
}
