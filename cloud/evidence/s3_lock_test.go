package evidence_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/evidence/s3test"
)

// commitS3 stages and commits b into st.
func commitS3(t *testing.T, st *evidence.S3, b []byte, sum string) evidence.Object {
	t.Helper()
	stage(t, st, sid, b, 1<<20)
	obj, err := st.Commit(ctx, sid, sum, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if obj.Version == "" {
		t.Fatalf("committed object names no version: %+v", obj)
	}
	return obj
}

// readRaw reads one version with the raw client.
func readRaw(t *testing.T, c *minio.Client, bucket, key, version string) ([]byte, error) {
	t.Helper()
	r, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{VersionID: version})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestS3LockedVersionCannotBeDeletedOrChanged tries, with the store's own
// credentials (the server's root account), everything that would lose a
// committed original: deleting its version, shortening its retention,
// overwriting its key, hiding it behind a delete marker. Each either fails
// or leaves the receipted version reading back unchanged.
func TestS3LockedVersionCannotBeDeletedOrChanged(t *testing.T) {
	for _, mode := range []evidence.LockMode{evidence.Governance, evidence.Compliance} {
		t.Run(string(mode), func(t *testing.T) {
			srv := s3test.Start(t)
			o := srv.Opts(evidence.S3Opts{Mode: mode})
			st, err := evidence.OpenS3(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			c := srv.Client(t)
			b, sum := payload(200_000, 21)
			before := time.Now()
			obj := commitS3(t, st, b, sum)
			key := "objects/" + sum

			l, err := st.Lock(ctx, obj.Ref())
			if err != nil {
				t.Fatal(err)
			}
			if l.Mode != mode || l.RetainUntil.Before(before.Add(evidence.MinRetention-time.Minute)) || l.LegalHold {
				t.Fatalf("lock %+v; want %s until a year from now, no hold", l, mode)
			}

			if err := c.RemoveObject(ctx, o.Bucket, key, minio.RemoveObjectOptions{VersionID: obj.Version}); err == nil {
				t.Fatal("deleting the locked version succeeded")
			}
			short := time.Now().Add(time.Hour).UTC()
			gov := minio.RetentionMode(mode)
			if err := c.PutObjectRetention(ctx, o.Bucket, key, minio.PutObjectRetentionOptions{
				VersionID: obj.Version, Mode: &gov, RetainUntilDate: &short}); err == nil {
				t.Fatal("shortening the retention succeeded")
			}
			if mode == evidence.Compliance {
				err := c.RemoveObject(ctx, o.Bucket, key, minio.RemoveObjectOptions{VersionID: obj.Version, GovernanceBypass: true})
				if err == nil {
					t.Fatal("deleting a compliance-locked version with the governance bypass succeeded")
				}
			}
			// An overwrite adds a version (or is refused); a plain delete
			// adds a delete marker. Neither touches the receipted version.
			other := bytes.Repeat([]byte("x"), 1000)
			if _, err := c.PutObject(ctx, o.Bucket, key, bytes.NewReader(other), int64(len(other)), minio.PutObjectOptions{}); err != nil {
				t.Logf("overwrite refused: %v", err)
			}
			if err := c.RemoveObject(ctx, o.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
				t.Logf("plain delete refused: %v", err)
			}
			got, err := readRaw(t, c, o.Bucket, key, obj.Version)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("the receipted version reads back %d bytes (%v), not the original", len(got), err)
			}
			for _, ref := range []string{obj.Ref(), sum} {
				if got := readAll(t, st, ref); !bytes.Equal(got, b) {
					t.Fatalf("store read of %s is not the original", ref)
				}
			}
			if v, err := st.Verify(ctx, sum); err != nil || v.Version != obj.Version {
				t.Fatalf("Verify(%s) = %+v, %v; want version %s", sum, v, err, obj.Version)
			}
		})
	}
}

// TestS3LegalHold: a legal hold is set on and lifted from exactly the
// receipted version, and while its retention is in force the version
// cannot be deleted either way. (That a hold outlives the retention's end
// is package custody's test: versitygw v1.8.0 stops checking legal holds
// once a retention has expired, so custody keeps a retention floor too.)
func TestS3LegalHold(t *testing.T) {
	srv := s3test.Start(t)
	o := srv.Opts(evidence.S3Opts{Mode: evidence.Governance})
	st, err := evidence.OpenS3(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client(t)
	b, sum := payload(10_000, 22)
	obj := commitS3(t, st, b, sum)
	for _, on := range []bool{true, false, true} {
		if err := st.SetLegalHold(ctx, obj.Ref(), on); err != nil {
			t.Fatal(err)
		}
		l, err := st.Lock(ctx, obj.Ref())
		if err != nil || l.LegalHold != on {
			t.Fatalf("lock %+v, %v: want hold %v", l, err, on)
		}
		if err := c.RemoveObject(ctx, o.Bucket, "objects/"+sum, minio.RemoveObjectOptions{VersionID: obj.Version}); err == nil {
			t.Fatal("deleting a locked version succeeded")
		}
	}
	if got := readAll(t, st, obj.Ref()); !bytes.Equal(got, b) {
		t.Fatal("the held version changed")
	}
	if err := st.SetLegalHold(ctx, sum+"@nosuchversion", true); !errors.Is(err, evidence.ErrNotFound) {
		t.Fatalf("holding a version that does not exist: %v", err)
	}
}

func TestOpenS3Refuses(t *testing.T) {
	srv := s3test.Start(t)
	c := srv.Client(t)
	if err := c.MakeBucket(ctx, "plain-bucket", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    evidence.S3Opts
		want error
	}{
		{"bucket without object lock", evidence.S3Opts{Bucket: "plain-bucket"}, evidence.ErrNotLocked},
		{"short compliance retention", evidence.S3Opts{Mode: evidence.Compliance, Retention: 24 * time.Hour}, nil},
		{"short bucket name", evidence.S3Opts{Bucket: "ab"}, nil},
		{"small parts", evidence.S3Opts{PartSize: 1 << 20}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := evidence.OpenS3(ctx, srv.Opts(tc.o))
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("OpenS3: %v, want %v", err, tc.want)
			}
		})
	}
}

// A commit that completed the multipart upload and stopped before it
// dropped the staging area (a crash) is finished by the next one, on any
// instance: the area shows as all staged, and Commit verifies the object
// and returns it; a chunk at a wrong sum is refused where it would make a
// part with a pending chunk, without a part being counted.
func TestS3CommitAfterCrash(t *testing.T) {
	srv := s3test.Start(t)
	o := srv.Opts(evidence.S3Opts{})
	st := srv.Open(t, o)
	b, sum := payload(6<<20+1, 21)
	if _, err := st.Begin(ctx, sid, int64(len(b)), sum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := appendBytes(st, sid, 0, b[:4<<20]); err != nil {
		t.Fatal(err)
	}
	rest := b[4<<20:]
	if _, err := st.Append(ctx, sid, 4<<20, bytes.NewReader(rest), int64(len(rest)), hexSum(b[:10])); !errors.Is(err, evidence.ErrChunkSum) {
		t.Fatalf("a part-making chunk with a wrong sum: %v", err)
	}
	if s, err := st.Staged(ctx, sid); err != nil || s.Offset != 4<<20 {
		t.Fatalf("after a refused chunk: %+v %v", s, err)
	}
	if _, err := appendBytes(st, sid, 4<<20, rest); err != nil {
		t.Fatal(err)
	}
	first, err := st.CompleteOnly(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	other := srv.Open(t, o)
	if s, err := other.Staged(ctx, sid); err != nil || s.Offset != s.Size {
		t.Fatalf("after the crash: %+v %v", s, err)
	}
	obj, err := other.Commit(ctx, sid, sum, int64(len(b)))
	if err != nil || obj != first {
		t.Fatalf("commit after the crash: %+v %v; completed %+v", obj, err, first)
	}
	if _, err := other.Staged(ctx, sid); !errors.Is(err, evidence.ErrNotFound) {
		t.Fatalf("staging after the commit: %v", err)
	}
	if got := readAll(t, st, obj.Ref()); !bytes.Equal(got, b) {
		t.Fatal("object reads back different bytes")
	}
}

// An area whose multipart upload was aborted under it (a discard that
// stopped half-way) is dropped when next read: not found, so the dock's
// next create begins it again, and that upload commits.
func TestS3AbortedUploadIsDropped(t *testing.T) {
	srv := s3test.Start(t)
	o := srv.Opts(evidence.S3Opts{})
	st := srv.Open(t, o)
	b, sum := payload(6<<20, 22)
	if _, err := st.Begin(ctx, sid, int64(len(b)), sum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := appendBytes(st, sid, 0, b[:1<<20]); err != nil {
		t.Fatal(err)
	}
	c := minio.Core{Client: srv.Client(t)}
	n := 0
	for u := range c.ListIncompleteUploads(ctx, o.Bucket, "objects/"+sum, true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		if err := c.AbortMultipartUpload(ctx, o.Bucket, u.Key, u.UploadID); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d multipart uploads of the object, want 1", n)
	}
	if _, err := st.Staged(ctx, sid); !errors.Is(err, evidence.ErrNotFound) {
		t.Fatalf("Staged after the abort: %v", err)
	}
	stage(t, st, sid, b, 4<<20)
	if _, err := st.Commit(ctx, sid, sum, int64(len(b))); err != nil {
		t.Fatal(err)
	}
}
