package custody_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/minio/minio-go/v7"

	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/evidence"
)

// TestOrphanedUploadsAborted runs the orphaned-upload job against
// versitygw: an orphan (a multipart upload no staging area names, with a
// part) is aborted only once it has made no progress for Age; an orphan of
// an object a receipt names is never aborted; an upload a staging area
// names is left to the sweep, and its area still resumes; a second run
// changes nothing; the directory backend has nothing to do.
func TestOrphanedUploadsAborted(t *testing.T) {
	ctx := context.Background()
	w := newS3World(t, evidence.S3Opts{})
	srv, o, ev, st, quiet := w.srv, w.o, w.ev, w.st, w.quiet
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	receipted := segmentAt(t, st, ev, key, 1, []byte("receipted footage"), time.Now().UTC().Truncate(time.Second))

	core := minio.Core{Client: srv.Client(t)}
	orphan := func(sum string) string {
		t.Helper()
		id, err := core.NewMultipartUpload(ctx, o.Bucket, "objects/"+sum, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p := []byte("a part of footage never staged")
		if _, err := core.PutObjectPart(ctx, o.Bucket, "objects/"+sum, id, 1, bytes.NewReader(p), int64(len(p)),
			minio.PutObjectPartOptions{}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	s := sha256.Sum256([]byte("footage whose Begin stopped"))
	lost := orphan(hex.EncodeToString(s[:]))
	orphan(receipted.SHA256)
	staged := bytes.Repeat([]byte("staged"), 1000)
	s = sha256.Sum256(staged)
	const area = "ffeeddccbbaa99887766554433221100"
	if _, err := ev.Begin(ctx, area, int64(len(staged)), hex.EncodeToString(s[:]), nil); err != nil {
		t.Fatal(err)
	}
	half := staged[:len(staged)/2]
	hs := sha256.Sum256(half)
	if _, err := ev.Append(ctx, area, 0, bytes.NewReader(half), int64(len(half)), hex.EncodeToString(hs[:])); err != nil {
		t.Fatal(err)
	}

	job := func(after time.Duration) custody.OrphanReport {
		t.Helper()
		rep, err := custody.Orphans{Store: st, Evidence: ev, Age: 7 * 24 * time.Hour, Log: quiet,
			Clock: clockwork.NewFakeClockAt(time.Now().Add(after))}.Apply(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := job(7*24*time.Hour - time.Hour); rep != (custody.OrphanReport{Uploads: 3, Orphans: 2}) {
		t.Fatalf("before the age: %+v", rep)
	}
	if rep := job(7*24*time.Hour + time.Hour); rep != (custody.OrphanReport{Uploads: 3, Orphans: 2, Aborted: 1, Receipted: 1}) {
		t.Fatalf("after the age: %+v", rep)
	}
	us, err := ev.MultipartUploads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.UploadID == lost {
			t.Fatalf("the abandoned orphan is still there: %+v", u)
		}
	}
	if len(us) != 2 {
		t.Fatalf("uploads left: %+v", us)
	}
	if rep := job(7*24*time.Hour + time.Hour); rep != (custody.OrphanReport{Uploads: 2, Orphans: 1, Receipted: 1}) {
		t.Fatalf("a second run: %+v", rep)
	}
	if a, err := ev.Staged(ctx, area); err != nil || a.Offset != int64(len(half)) {
		t.Fatalf("the staged upload after the job: %+v %v", a, err)
	}
	if got, err := ev.Open(ctx, receipted.ObjectID); err != nil {
		t.Fatalf("the receipted object: %v", err)
	} else {
		got.Close()
	}

	fs, err := evidence.OpenFS(t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := (custody.Orphans{Store: st, Evidence: fs}).Apply(ctx); err != nil || rep != (custody.OrphanReport{}) {
		t.Fatalf("directory backend: %+v %v", rep, err)
	}
}
