package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// LockMode is the S3 Object Lock mode objects are written in.
type LockMode string

// Object Lock modes. Compliance is production's: nobody, the bucket's
// root account included, can shorten a retention or delete the version
// before it ends. Governance lets an account holding
// s3:BypassGovernanceRetention do so; tests use it, and the collector's
// own credentials must not hold that permission.
const (
	Compliance LockMode = "COMPLIANCE"
	Governance LockMode = "GOVERNANCE"
)

// MinRetention is the shortest retention a compliance-mode store accepts:
// rule 4 of DESIGN.md keeps footage at least a year.
const MinRetention = 365 * 24 * time.Hour

// ErrNotLocked reports a bucket without versioning and object lock.
var ErrNotLocked = errors.New("evidence: bucket has no object lock")

// S3Opts configures an S3 store.
type S3Opts struct {
	Endpoint  string // host:port of the S3 server
	Secure    bool   // HTTPS
	AccessKey string
	SecretKey string
	Region    string // default us-east-1
	Bucket    string // at least 3 characters; versioning and object lock on
	// CreateBucket makes the bucket, with object lock, if it is missing.
	CreateBucket bool
	// Mode is the lock mode of committed objects (default Compliance).
	Mode LockMode
	// Retention is the retain-until period set on each object at commit
	// (default MinRetention); in Compliance mode it may not be shorter.
	Retention time.Duration
	// PartSize is the part size of the multipart upload a commit writes
	// (default DefaultPartSize; at least 5 MiB, S3's minimum).
	PartSize  int64
	Logger    *slog.Logger
	Clock     clockwork.Clock   // retain-until dates; nil: the real clock
	Transport http.RoundTripper // nil: minio-go's default
}

// DefaultPartSize is the default S3Opts.PartSize.
const DefaultPartSize = 16 << 20

const minPartSize = 5 << 20

// S3 is the S3 backend of Store, for an S3-compatible server with object
// lock (see the package doc). Every piece of an upload's state lives in
// the bucket, so any collector instance continues any upload. It is safe
// for concurrent use.
type S3 struct {
	c      *minio.Client
	core   minio.Core
	bucket string
	mode   LockMode
	keep   time.Duration
	part   int64
	log    *slog.Logger
	clock  clockwork.Clock
	bufs   sync.Pool // *[]byte of part bytes
}

var _ Store = (*S3)(nil)

// OpenS3 connects to the S3 server and checks (or, with CreateBucket,
// makes) the bucket: it must have versioning and object lock enabled, or
// the store refuses to open (ErrNotLocked): write-once is the bucket's
// property, not a promise of this code.
func OpenS3(ctx context.Context, o S3Opts) (*S3, error) {
	if len(o.Bucket) < 3 {
		return nil, fmt.Errorf("evidence: s3 bucket name %q: at least 3 characters", o.Bucket)
	}
	if o.Mode == "" {
		o.Mode = Compliance
	}
	if o.Mode != Compliance && o.Mode != Governance {
		return nil, fmt.Errorf("evidence: s3 lock mode %q", o.Mode)
	}
	if o.Retention == 0 {
		o.Retention = MinRetention
	}
	if o.Retention < 0 || o.Mode == Compliance && o.Retention < MinRetention {
		return nil, fmt.Errorf("evidence: s3 retention %s: compliance mode keeps at least %s", o.Retention, MinRetention)
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < minPartSize {
		return nil, fmt.Errorf("evidence: s3 part size %d under S3's minimum %d", o.PartSize, minPartSize)
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	c, err := minio.New(o.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure: o.Secure, Region: o.Region, Transport: o.Transport, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return nil, fmt.Errorf("evidence: s3 %s: %w", o.Endpoint, err)
	}
	s := &S3{c: c, core: minio.Core{Client: c}, bucket: o.Bucket, mode: o.Mode, keep: o.Retention, part: o.PartSize,
		log: o.Logger, clock: o.Clock}
	s.bufs.New = func() any { b := make([]byte, s.part); return &b }
	if err := s.checkBucket(ctx, o.CreateBucket, o.Region); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *S3) checkBucket(ctx context.Context, create bool, region string) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("evidence: s3 bucket %s: %w", s.bucket, err)
	}
	if !ok {
		if !create {
			return fmt.Errorf("evidence: s3 bucket %s: %w", s.bucket, ErrNotFound)
		}
		err := s.c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region, ObjectLocking: true})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return fmt.Errorf("evidence: s3 make bucket %s: %w", s.bucket, err)
		}
	}
	enabled, _, _, _, err := s.c.GetObjectLockConfig(ctx, s.bucket)
	if err != nil || enabled != "Enabled" {
		return fmt.Errorf("%w: %s (object lock %q, %v)", ErrNotLocked, s.bucket, enabled, err)
	}
	v, err := s.c.GetBucketVersioning(ctx, s.bucket)
	if err != nil || !v.Enabled() {
		return fmt.Errorf("%w: %s (versioning %q, %v)", ErrNotLocked, s.bucket, v.Status, err)
	}
	return nil
}

// String names the store.
func (s *S3) String() string { return "evidence.S3(" + s.c.EndpointURL().Host + "/" + s.bucket + ")" }

// Keys in the bucket. Objects live at objects/<sha256>; an upload's
// staging area at staging/<id>/ as its meta object (8-byte big-endian
// declared size, then the caller's metadata) and one object per appended
// chunk, p<start offset, 20 digits>, each written once (If-None-Match).
const (
	s3Objects = "objects/"
	s3Staging = "staging/"
	s3Meta    = "meta"
	s3Part    = "p"
)

func objectKey(id string) string        { return s3Objects + id }
func stagingKey(id, name string) string { return s3Staging + id + "/" + name }
func partKey(id string, off int64) string {
	return stagingKey(id, fmt.Sprintf("%s%020d", s3Part, off))
}

// s3Area is a staging area as the bucket holds it.
type s3Area struct {
	size    int64
	meta    []byte
	off     int64     // durable end: the contiguous chain of parts from 0
	parts   []s3Piece // the chain
	touched time.Time
}

type s3Piece struct {
	key        string
	start, len int64
}

func (a *s3Area) staging(id string) Staging {
	return Staging{ID: id, Size: a.size, Offset: a.off, Meta: append([]byte(nil), a.meta...)}
}

func errCode(err error) string { return minio.ToErrorResponse(err).Code }

func notFound(err error) bool {
	switch errCode(err) {
	case "NoSuchKey", "NoSuchVersion", "NotFound":
		return true
	}
	return false
}

// putOnce is PutObject options that write key only if it does not exist.
// DisableContentSha256 turns off minio-go's streaming (aws-chunked)
// signature over plain HTTP, so that the SHA-256 given with each put is the
// request's signed x-amz-content-sha256, which the server checks against
// the body before it stores anything.
func putOnce() minio.PutObjectOptions {
	o := minio.PutObjectOptions{DisableContentSha256: true}
	o.SetMatchETagExcept("*")
	return o
}

// load reads staging area id from the bucket.
func (s *S3) load(ctx context.Context, id string) (*s3Area, error) {
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, stagingKey(id, s3Meta), minio.GetObjectOptions{})
	if notFound(err) {
		return nil, fmt.Errorf("%w: staging %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	m, err := io.ReadAll(io.LimitReader(rc, metaHeader+MaxMetaLen+1))
	rc.Close()
	if notFound(err) {
		return nil, fmt.Errorf("%w: staging %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	if len(m) < metaHeader || len(m) > metaHeader+MaxMetaLen || int64(binary.BigEndian.Uint64(m)) < 0 {
		return nil, fmt.Errorf("%w: staging %s meta object of %d bytes", ErrCorrupt, id, len(m))
	}
	a := &s3Area{size: int64(binary.BigEndian.Uint64(m)), meta: m[metaHeader:]}
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: stagingKey(id, ""), Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		if o.LastModified.After(a.touched) {
			a.touched = o.LastModified
		}
		name := strings.TrimPrefix(o.Key, stagingKey(id, ""))
		start, err := strconv.ParseInt(strings.TrimPrefix(name, s3Part), 10, 64)
		if !strings.HasPrefix(name, s3Part) || err != nil {
			continue
		}
		a.parts = append(a.parts, s3Piece{key: o.Key, start: start, len: o.Size})
	}
	sort.Slice(a.parts, func(i, j int) bool { return a.parts[i].start < a.parts[j].start })
	chain := a.parts[:0]
	for _, p := range a.parts {
		if p.start != a.off || p.len <= 0 || p.len > a.size-a.off {
			// Off the chain: a leftover of a failed race; the chain
			// ends at the first gap.
			if p.start > a.off {
				break
			}
			continue
		}
		chain = append(chain, p)
		a.off += p.len
	}
	a.parts = chain
	return a, nil
}

// Begin implements Store. The meta object is written once (If-None-Match),
// so the first Begin's metadata stands whichever instance made it.
func (s *S3) Begin(ctx context.Context, id string, size int64, meta []byte) (Staging, error) {
	if err := ValidStagingID(id); err != nil {
		return Staging{}, err
	}
	if size < 0 {
		return Staging{}, fmt.Errorf("%w: negative size %d", ErrSizeMismatch, size)
	}
	if len(meta) > MaxMetaLen {
		return Staging{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMeta, len(meta), MaxMetaLen)
	}
	a, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		m := append(binary.BigEndian.AppendUint64(nil, uint64(size)), meta...)
		sum := sha256.Sum256(m)
		_, err = s.core.PutObject(ctx, s.bucket, stagingKey(id, s3Meta), bytes.NewReader(m), int64(len(m)), "",
			hex.EncodeToString(sum[:]), putOnce())
		if err == nil || errCode(err) == "PreconditionFailed" {
			a, err = s.load(ctx, id)
		}
	}
	if err != nil {
		return Staging{}, fmt.Errorf("evidence: begin %s: %w", id, err)
	}
	return a.staging(id), nil
}

// Staged implements Store.
func (s *S3) Staged(ctx context.Context, id string) (Staging, error) {
	if err := ValidStagingID(id); err != nil {
		return Staging{}, err
	}
	a, err := s.load(ctx, id)
	if err != nil {
		return Staging{}, fmt.Errorf("evidence: staged %s: %w", id, err)
	}
	return a.staging(id), nil
}

// Append implements Store: the chunk becomes the part object at off,
// written only if none exists there (If-None-Match), so of two instances
// appending at one offset exactly one wins. The part's SHA-256 is the
// request's signed payload hash, which the S3 server checks before it
// stores the part; the chunk is hashed here as it streams too.
func (s *S3) Append(ctx context.Context, id string, off int64, r io.Reader, n int64, chunkSHA256 string) (int64, error) {
	if err := ValidStagingID(id); err != nil {
		return 0, err
	}
	a, err := s.load(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("evidence: append %s: %w", id, err)
	}
	end, err := s.appendPart(ctx, id, a, off, r, n, chunkSHA256)
	if err != nil {
		return end, fmt.Errorf("evidence: append %s: %w", id, err)
	}
	return end, nil
}

func (s *S3) appendPart(ctx context.Context, id string, a *s3Area, off int64, r io.Reader, n int64, want string) (int64, error) {
	switch {
	case off != a.off:
		return a.off, fmt.Errorf("%w: offset %d, durable end %d", ErrOffset, off, a.off)
	case n < 0 || n > a.size-a.off:
		return a.off, fmt.Errorf("%w: %d bytes at %d exceed size %d", ErrTooLarge, n, off, a.size)
	case len(want) != 64 || !lowerHex(want):
		return a.off, fmt.Errorf("%w: chunk sha256 %.80q is not 64 lowercase hex digits", ErrChunkSum, want)
	case n == 0:
		if want != emptySHA256 {
			return a.off, fmt.Errorf("%w: empty chunk, sha256 %s", ErrChunkSum, want)
		}
		return a.off, nil
	}
	hr := &hashReader{r: r, left: n, h: sha256.New()}
	info, perr := s.core.PutObject(ctx, s.bucket, partKey(id, off), hr, n, "", want, putOnce())
	switch code := errCode(perr); {
	case hr.err != nil:
		return a.off, fmt.Errorf("%w: %d of %d bytes: %w", ErrShortChunk, hr.read, n, hr.err)
	case hr.read == n && hex.EncodeToString(hr.h.Sum(nil)) != want:
		if perr == nil { // stored despite its hash (a server not checking payload hashes): drop it
			if err := s.removeVersion(ctx, partKey(id, off), info.VersionID); err != nil {
				s.log.Error("evidence: removing a part that does not hash to its chunk sum", "staging", id, "off", off, "err", err)
			}
		}
		return a.off, fmt.Errorf("%w: chunk hashes to %x, expected %s", ErrChunkSum, hr.h.Sum(nil), want)
	case code == "XAmzContentSHA256Mismatch" || code == "BadDigest":
		return a.off, fmt.Errorf("%w: the S3 server refused the chunk: %w", ErrChunkSum, perr)
	case code == "PreconditionFailed":
		if b, lerr := s.load(ctx, id); lerr == nil {
			a = b
		}
		return a.off, fmt.Errorf("%w: offset %d written by another append meanwhile, durable end %d", ErrOffset, off, a.off)
	case perr != nil:
		return a.off, perr
	}
	return off + n, nil
}

// hashReader reads exactly left bytes of r, hashing them; an early end or
// a read error is kept in err.
type hashReader struct {
	r    io.Reader
	left int64
	read int64
	h    hash.Hash
	err  error
}

func (h *hashReader) Read(p []byte) (int, error) {
	if h.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > h.left {
		p = p[:h.left]
	}
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.read += int64(n)
	h.left -= int64(n)
	if err == io.EOF && h.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		h.err = err
	}
	return n, err
}

// removeVersion deletes one version of a staging key (never an object's:
// those are locked, and nothing here names them).
func (s *S3) removeVersion(ctx context.Context, key, version string) error {
	if !strings.HasPrefix(key, s3Staging) {
		return fmt.Errorf("evidence: refusing to remove %s: not staging", key)
	}
	return s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: version})
}

// Discard implements Store: every version of every key of the staging
// area is deleted (a plain delete in a versioned bucket would only hide
// the bytes behind a delete marker).
func (s *S3) Discard(ctx context.Context, id string) error {
	if err := ValidStagingID(id); err != nil {
		return err
	}
	if err := s.discard(ctx, id); err != nil {
		return fmt.Errorf("evidence: discard %s: %w", id, err)
	}
	return nil
}

func (s *S3) discard(ctx context.Context, id string) error {
	var meta []minio.ObjectInfo
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: stagingKey(id, ""), Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			return o.Err
		}
		if strings.HasSuffix(o.Key, "/"+s3Meta) {
			meta = append(meta, o) // last: the area exists until its parts are gone
			continue
		}
		if err := s.removeVersion(ctx, o.Key, o.VersionID); err != nil && !notFound(err) {
			return err
		}
	}
	for _, o := range meta {
		if err := s.removeVersion(ctx, o.Key, o.VersionID); err != nil && !notFound(err) {
			return err
		}
	}
	return nil
}

// StagingAreas lists the staging areas, for quotas and sweeping (as
// FS.StagingAreas); Touched is the server's time of the area's last write.
func (s *S3) StagingAreas(ctx context.Context) ([]StagingArea, error) {
	var out []StagingArea
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s3Staging}) {
		if o.Err != nil {
			return nil, fmt.Errorf("evidence: staging areas: %w", o.Err)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(o.Key, s3Staging), "/")
		if ValidStagingID(id) != nil {
			continue
		}
		a, err := s.load(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("evidence: staging %s: %w", id, err)
		}
		out = append(out, StagingArea{ID: id, Size: a.size, Meta: a.meta, Touched: a.touched})
	}
	return out, nil
}
