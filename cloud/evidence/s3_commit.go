package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
)

// Commit implements Store. In order: the staging area's chain of parts must
// cover exactly size bytes; if the object exists already its first
// version is re-read and verified and the staging area dropped (one
// object, no second copy); otherwise the staged bytes are read back
// through SHA-256 and written to objects/<sha256> with the lock mode and a
// retain-until date set in the same request, and only if they hash to
// sha256hex: a single PUT after the check, or a multipart upload that is
// completed after the last part was hashed and aborted otherwise, so no
// object ever exists under a hash its bytes do not have. Each part is sent
// with its SHA-256 as the signed payload hash, which the server checks
// before storing it; the put is conditional (If-None-Match), so a second
// commit of the same content never adds a version. The new version is
// then read back by its version id and verified before the staging area
// is dropped and the object returned.
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
	if a.size != size || a.off != size {
		return Object{}, fmt.Errorf("%w: staged %d of declared %d bytes, commit asks %d", ErrSizeMismatch, a.off, a.size, size)
	}
	obj, err := s.Stat(ctx, sum)
	switch {
	case errors.Is(err, ErrNotFound):
		obj, err = s.write(ctx, a, sum, size)
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

// stagedReader reads an area's chain of parts in order.
type stagedReader struct {
	ctx   context.Context
	s     *S3
	parts []s3Piece
	cur   io.ReadCloser
}

func (r *stagedReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.parts) == 0 {
				return 0, io.EOF
			}
			rc, _, _, err := r.s.core.GetObject(r.ctx, r.s.bucket, r.parts[0].key, minio.GetObjectOptions{})
			if err != nil {
				return 0, err
			}
			r.cur, r.parts = rc, r.parts[1:]
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur, err = nil, nil
			if n == 0 {
				continue
			}
		}
		return n, err
	}
}

func (r *stagedReader) Close() {
	if r.cur != nil {
		r.cur.Close()
	}
}

// lockOpts are the put options of a committed object.
func (s *S3) lockOpts() minio.PutObjectOptions {
	o := putOnce()
	o.Mode = minio.RetentionMode(s.mode)
	o.RetainUntilDate = s.clock.Now().Add(s.keep).UTC()
	o.ContentType = "application/octet-stream"
	return o
}

// write copies the staged bytes to the object, verified (see Commit).
func (s *S3) write(ctx context.Context, a *s3Area, sum string, size int64) (Object, error) {
	src := &stagedReader{ctx: ctx, s: s, parts: a.parts}
	defer src.Close()
	whole := sha256.New()
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	key := objectKey(sum)
	read := func(n int64) ([]byte, string, error) {
		b := buf[:n]
		if _, err := io.ReadFull(src, b); err != nil {
			return nil, "", fmt.Errorf("%w: reading staged bytes: %w", ErrCorrupt, err)
		}
		whole.Write(b)
		ps := sha256.Sum256(b)
		return b, hex.EncodeToString(ps[:]), nil
	}
	check := func() error {
		if got := hex.EncodeToString(whole.Sum(nil)); got != sum {
			return fmt.Errorf("%w: staged bytes hash to %s, expected %s", ErrHashMismatch, got, sum)
		}
		return nil
	}
	var version string
	if size <= s.part {
		b, ps, err := read(size)
		if err != nil {
			return Object{}, err
		}
		if err := check(); err != nil {
			return Object{}, err
		}
		info, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(b), size, "", ps, s.lockOpts())
		if errCode(err) == "PreconditionFailed" {
			return Object{}, errExists
		}
		if err != nil {
			return Object{}, err
		}
		version = info.VersionID
	} else {
		upload, err := s.core.NewMultipartUpload(ctx, s.bucket, key, s.lockOpts())
		if err != nil {
			return Object{}, err
		}
		done := false
		defer func() {
			if !done {
				if err := s.core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, key, upload); err != nil {
					s.log.Warn("evidence: aborting multipart upload", "object", sum, "upload", upload, "err", err)
				}
			}
		}()
		var parts []minio.CompletePart
		for off, num := int64(0), 1; off < size; num++ {
			n := min(s.part, size-off)
			b, ps, err := read(n)
			if err != nil {
				return Object{}, err
			}
			off += n
			if off == size {
				if err := check(); err != nil {
					return Object{}, err // the deferred abort leaves no object
				}
			}
			p, err := s.core.PutObjectPart(ctx, s.bucket, key, upload, num, bytes.NewReader(b), n,
				minio.PutObjectPartOptions{Sha256Hex: ps, DisableContentSha256: true}) // signed: see putOnce
			if err != nil {
				return Object{}, err
			}
			parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		}
		info, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, upload, parts, putOnce())
		if errCode(err) == "PreconditionFailed" {
			return Object{}, errExists
		}
		if err != nil {
			return Object{}, err
		}
		done = true
		version = info.VersionID
	}
	if version == "" {
		return Object{}, fmt.Errorf("%w: the S3 server named no version of %s (bucket versioning off?)", ErrNotLocked, key)
	}
	obj, err := s.Stat(ctx, sum+"@"+version)
	if err != nil {
		return Object{}, err
	}
	if _, err := s.verify(ctx, obj, sum, size); err != nil {
		s.log.Error("evidence: object does not read back as written", "object", obj.Ref(), "err", err)
		return Object{}, fmt.Errorf("%w: %s after commit: %w", ErrCorrupt, obj.Ref(), err)
	}
	return obj, nil
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
	h := info.Metadata
	l := Lock{Mode: LockMode(h.Get("X-Amz-Object-Lock-Mode")), LegalHold: h.Get("X-Amz-Object-Lock-Legal-Hold") == "ON"}
	if u := h.Get("X-Amz-Object-Lock-Retain-Until-Date"); u != "" {
		if l.RetainUntil, err = time.Parse(time.RFC3339, u); err != nil {
			return Lock{}, fmt.Errorf("evidence: lock of %s: retain-until %q: %w", ref, u, err)
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
