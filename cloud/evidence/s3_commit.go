package evidence

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// Commit implements Store. In order: sha256hex must be the hash Begin
// declared (the multipart upload is of objects/<sha256hex>), and the
// area's parts must cover exactly size bytes; the SHA-256 of the bytes,
// carried in the last part's state object (the bytes were hashed as they
// arrived, and the server checked each part's signed SHA-256 before it
// stored it), must be sha256hex, or the upload stays uncompleted and no
// object exists under a hash its bytes do not have. If the object exists
// already its first version is re-read and verified and the staging area
// dropped (one object, no second copy). Otherwise the multipart upload is
// completed conditionally (If-None-Match: a second commit of the same
// content never adds a version) from exactly the parts whose ETags the
// state objects recorded; the new version must carry the ETag those parts
// make (MD5 of their MD5s) and the size, or it is re-read and verified;
// its lock (set when the upload began) is extended to the store's
// retention from now, and only then is the staging area dropped and the
// object returned.
func (s *S3) Commit(ctx context.Context, id string, sha256hex string, size int64) (Object, error) {
	if err := ValidObjectID(sha256hex); err != nil {
		return Object{}, fmt.Errorf("evidence: commit %s: %w", id, err)
	}
	if err := ValidStagingID(id); err != nil {
		return Object{}, err
	}
	obj, err := s.commit(ctx, id, sha256hex, size)
	if err != nil {
		return Object{}, fmt.Errorf("evidence: commit %s: %w", id, err)
	}
	return obj, nil
}

func (s *S3) commit(ctx context.Context, id, sum string, size int64) (Object, error) {
	a, err := s.load(ctx, id)
	if err != nil {
		return Object{}, err
	}
	if a.size != size || a.off != size || a.partEnd != size {
		return Object{}, fmt.Errorf("%w: staged %d of declared %d bytes, commit asks %d", ErrSizeMismatch, a.off, a.size, size)
	}
	if a.sum != sum {
		return Object{}, fmt.Errorf("%w: staged as %s, commit asks %s", ErrHashMismatch, a.sum, sum)
	}
	if !a.gone {
		whole, err := s.wholeHash(ctx, a)
		if err != nil {
			return Object{}, err
		}
		if got := hex.EncodeToString(whole.Sum(nil)); got != sum {
			return Object{}, fmt.Errorf("%w: staged bytes hash to %s, expected %s", ErrHashMismatch, got, sum)
		}
	}
	obj, err := s.Stat(ctx, sum)
	switch {
	case errors.Is(err, ErrNotFound):
		obj, err = s.complete(ctx, a, sum, size)
		if !errors.Is(err, errExists) {
			break
		}
		// Another commit of the same content won meanwhile.
		if obj, err = s.Stat(ctx, sum); err != nil {
			return Object{}, err
		}
		fallthrough
	case err == nil:
		if _, verr := s.verify(ctx, obj, sum, size); verr != nil {
			s.log.Error("evidence: existing object does not verify; staging kept", "object", obj.Ref(), "staging", id, "err", verr)
			return Object{}, fmt.Errorf("%w: existing object %s: %w", ErrCorrupt, obj.Ref(), verr)
		}
	}
	if err != nil {
		return Object{}, err
	}
	if err := s.discard(ctx, id); err != nil {
		// The object is durable and verified; the leftover staging area
		// is swept later.
		s.log.Warn("evidence: dropping committed staging area", "staging", id, "err", err)
	}
	return obj, nil
}

var errExists = errors.New("evidence: object exists")

// lockOpts are the put options of a committed object.
func (s *S3) lockOpts() minio.PutObjectOptions {
	o := putOnce()
	o.Mode = minio.RetentionMode(s.mode)
	o.RetainUntilDate = s.clock.Now().Add(s.keep).UTC()
	o.ContentType = "application/octet-stream"
	return o
}

// complete makes the area's verified parts the object (see Commit).
func (s *S3) complete(ctx context.Context, a *s3Area, sum string, size int64) (Object, error) {
	key := objectKey(sum)
	var version, etag, want string
	if size == 0 {
		info, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(nil), 0, "", emptySHA256, s.lockOpts())
		if errCode(err) == "PreconditionFailed" {
			return Object{}, errExists
		}
		if err != nil {
			return Object{}, err
		}
		version, etag, want = info.VersionID, info.ETag, hex.EncodeToString(md5.New().Sum(nil))
	} else {
		parts := make([]minio.CompletePart, len(a.parts))
		var err error
		for i, p := range a.parts {
			parts[i] = minio.CompletePart{PartNumber: p.num, ETag: p.etag}
		}
		if want, err = multipartETag(a.parts); err != nil {
			return Object{}, err
		}
		info, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, a.upload, parts, putOnce())
		if errCode(err) == "PreconditionFailed" {
			return Object{}, errExists
		}
		if err != nil {
			return Object{}, err
		}
		version, etag = info.VersionID, info.ETag
	}
	if version == "" {
		return Object{}, fmt.Errorf("%w: the S3 server named no version of %s (bucket versioning off?)", ErrNotLocked, key)
	}
	info, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{VersionID: version})
	if err != nil {
		return Object{}, err
	}
	obj := Object{ID: sum, SHA256: sum, Size: info.Size, StoredAt: info.LastModified.UTC(), Version: version}
	if strings.Trim(etag, `"`) != want || strings.Trim(info.ETag, `"`) != want || info.Size != size {
		// Not the ETag the verified parts make: read it back.
		s.log.Warn("evidence: committed object's ETag is not its parts'; re-reading it", "object", obj.Ref(),
			"etag", etag, "want", want)
		if _, err := s.verify(ctx, obj, sum, size); err != nil {
			s.log.Error("evidence: object does not read back as written", "object", obj.Ref(), "err", err)
			return Object{}, fmt.Errorf("%w: %s after commit: %w", ErrCorrupt, obj.Ref(), err)
		}
	}
	lock, err := lockOf(info)
	if err != nil {
		return Object{}, err
	}
	if lock.Mode != s.mode {
		return Object{}, fmt.Errorf("%w: %s committed with lock mode %q", ErrNotLocked, obj.Ref(), lock.Mode)
	}
	// The lock was set when the upload began; the retention runs from now.
	if until := s.clock.Now().Add(s.keep); lock.RetainUntil.Before(until.Add(-time.Second)) {
		if err := s.ExtendRetention(ctx, obj.Ref(), until); err != nil {
			return Object{}, err
		}
	}
	return obj, nil
}

// multipartETag is the ETag an S3 server gives the object completed from
// parts: the MD5 of their MD5s, then "-" and their count.
func multipartETag(parts []s3Part) (string, error) {
	h := md5.New()
	for _, p := range parts {
		b, err := hex.DecodeString(p.etag)
		if err != nil || len(b) != md5.Size {
			return "", fmt.Errorf("%w: part %d's ETag %q is not an MD5", ErrCorrupt, p.num, p.etag)
		}
		h.Write(b)
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(parts)), nil
}

// Stat implements Store. A bare id resolves to the object's first
// version (the one written once and locked): a later version, or a delete
// marker, never changes what the id reads as.
func (s *S3) Stat(ctx context.Context, ref string) (Object, error) {
	id, version, err := ParseRef(ref)
	if err != nil {
		return Object{}, err
	}
	if version == "" {
		if version, err = s.firstVersion(ctx, id); err != nil {
			return Object{}, err
		}
	}
	info, err := s.c.StatObject(ctx, s.bucket, objectKey(id), minio.StatObjectOptions{VersionID: version})
	if notFound(err) || badVersion(err) {
		return Object{}, fmt.Errorf("%w: object %s@%s", ErrNotFound, id, version)
	}
	if err != nil {
		return Object{}, fmt.Errorf("evidence: stat %s: %w", ref, err)
	}
	if info.IsDeleteMarker {
		return Object{}, fmt.Errorf("%w: object %s@%s is a delete marker", ErrNotFound, id, version)
	}
	return Object{ID: id, SHA256: id, Size: info.Size, StoredAt: info.LastModified.UTC(), Version: version}, nil
}

// badVersion reports a version id the server refuses as malformed (a HEAD
// answers 400 with no body): no version of that name exists.
func badVersion(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.StatusCode == 400 || r.Code == "InvalidArgument"
}

// firstVersion finds the oldest version of object id that is not a delete
// marker.
func (s *S3) firstVersion(ctx context.Context, id string) (string, error) {
	key := objectKey(id)
	var first minio.ObjectInfo
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true, Recursive: true}) {
		if o.Err != nil {
			return "", fmt.Errorf("evidence: stat %s: %w", id, o.Err)
		}
		if o.Key != key || o.IsDeleteMarker {
			continue
		}
		// Versions are listed newest first; keep the oldest.
		if first.VersionID == "" || !o.LastModified.After(first.LastModified) {
			first = o
		}
	}
	if first.VersionID == "" {
		return "", fmt.Errorf("%w: object %s", ErrNotFound, id)
	}
	return first.VersionID, nil
}

// Open implements Store: reads go by version id.
func (s *S3) Open(ctx context.Context, ref string) (Reader, error) {
	obj, err := s.Stat(ctx, ref)
	if err != nil {
		return nil, err
	}
	r, err := s.c.GetObject(ctx, s.bucket, objectKey(obj.ID), minio.GetObjectOptions{VersionID: obj.Version})
	if err != nil {
		return nil, fmt.Errorf("evidence: open %s: %w", obj.Ref(), err)
	}
	return r, nil
}

// Verify re-reads the object ref names and checks that its bytes hash to
// its id.
func (s *S3) Verify(ctx context.Context, ref string) (Object, error) {
	obj, err := s.Stat(ctx, ref)
	if err != nil {
		return Object{}, err
	}
	if _, err := s.verify(ctx, obj, obj.ID, obj.Size); err != nil {
		return Object{}, fmt.Errorf("evidence: verify %s: %w", obj.Ref(), err)
	}
	return obj, nil
}

func (s *S3) verify(ctx context.Context, obj Object, sum string, size int64) (Object, error) {
	if obj.Size != size {
		return obj, fmt.Errorf("%w: %d bytes stored, %d expected", ErrSizeMismatch, obj.Size, size)
	}
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, objectKey(obj.ID), minio.GetObjectOptions{VersionID: obj.Version})
	if err != nil {
		return obj, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return obj, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != sum {
		return obj, fmt.Errorf("%w: stored bytes (%d) hash to %s, expected %s", ErrHashMismatch, n, got, sum)
	}
	return obj, nil
}

// Lock is an object version's retention and legal hold as the S3 server
// holds them.
type Lock struct {
	Mode        LockMode
	RetainUntil time.Time
	LegalHold   bool
}

// Lock reads the retention and legal hold of the object ref names, from
// the version's HEAD (x-amz-object-lock-* headers: one request, and the
// form every S3 server answers alike; versitygw's GetObjectRetention body
// is not the XML minio-go expects).
func (s *S3) Lock(ctx context.Context, ref string) (Lock, error) {
	id, version, err := ParseRef(ref)
	if err != nil {
		return Lock{}, err
	}
	if version == "" {
		if version, err = s.firstVersion(ctx, id); err != nil {
			return Lock{}, err
		}
	}
	info, err := s.c.StatObject(ctx, s.bucket, objectKey(id), minio.StatObjectOptions{VersionID: version})
	if notFound(err) {
		return Lock{}, fmt.Errorf("%w: object %s@%s", ErrNotFound, id, version)
	}
	if err != nil {
		return Lock{}, fmt.Errorf("evidence: lock of %s: %w", ref, err)
	}
	l, err := lockOf(info)
	if err != nil {
		return Lock{}, fmt.Errorf("evidence: lock of %s: %w", ref, err)
	}
	return l, nil
}

// lockOf reads a version's lock from its HEAD's headers.
func lockOf(info minio.ObjectInfo) (Lock, error) {
	h := info.Metadata
	l := Lock{Mode: LockMode(h.Get("X-Amz-Object-Lock-Mode")), LegalHold: h.Get("X-Amz-Object-Lock-Legal-Hold") == "ON"}
	if u := h.Get("X-Amz-Object-Lock-Retain-Until-Date"); u != "" {
		var err error
		if l.RetainUntil, err = time.Parse(time.RFC3339, u); err != nil {
			return Lock{}, fmt.Errorf("retain-until %q: %w", u, err)
		}
		l.RetainUntil = l.RetainUntil.UTC()
	}
	return l, nil
}

// SetLegalHold sets (on) or lifts the legal hold of the object version ref
// names: a held version cannot be deleted whatever its retention says.
// Who may hold and why is the caller's policy; this is the mechanism.
func (s *S3) SetLegalHold(ctx context.Context, ref string, on bool) error {
	obj, err := s.Stat(ctx, ref)
	if err != nil {
		return err
	}
	st := minio.LegalHoldDisabled
	if on {
		st = minio.LegalHoldEnabled
	}
	if err := s.c.PutObjectLegalHold(ctx, s.bucket, objectKey(obj.ID), minio.PutObjectLegalHoldOptions{
		VersionID: obj.Version, Status: &st}); err != nil {
		return fmt.Errorf("evidence: legal hold of %s: %w", obj.Ref(), err)
	}
	return nil
}

// ExtendRetention moves the retain-until date of the object version ref
// names to until, in the store's lock mode. The S3 server refuses to
// shorten a compliance retention.
func (s *S3) ExtendRetention(ctx context.Context, ref string, until time.Time) error {
	obj, err := s.Stat(ctx, ref)
	if err != nil {
		return err
	}
	mode := minio.RetentionMode(s.mode)
	until = until.UTC()
	if err := s.c.PutObjectRetention(ctx, s.bucket, objectKey(obj.ID), minio.PutObjectRetentionOptions{
		VersionID: obj.Version, Mode: &mode, RetainUntilDate: &until}); err != nil {
		return fmt.Errorf("evidence: retention of %s: %w", obj.Ref(), err)
	}
	return nil
}

// ObjectVersions counts the stored versions (delete markers aside) of each
// object in the bucket: one per object is the write-once invariant, which
// audits and tests check.
func (s *S3) ObjectVersions(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s3Objects, WithVersions: true, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("evidence: object versions: %w", o.Err)
		}
		if !o.IsDeleteMarker {
			out[o.Key[len(s3Objects):]]++
		}
	}
	return out, nil
}
