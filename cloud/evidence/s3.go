package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
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
	// PartSize is the least size of a part of an upload's multipart
	// upload but its last (default and minimum 5 MiB, S3's minimum):
	// smaller chunks wait as pending chunks until they make one.
	PartSize  int64
	Logger    *slog.Logger
	Clock     clockwork.Clock   // retain-until dates; nil: the real clock
	Transport http.RoundTripper // nil: minio-go's default
}

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
	// hashChunks: the server was not seen to refuse a body that does not
	// hash to its signed SHA-256 (see probePayloadCheck), so a chunk sent
	// as it came is hashed here too. With a server that checks, the
	// signed hash is the dock's chunk sum and the server's check is the
	// chunk's: hashing it here as well would be the same work twice.
	hashChunks bool

	// pending holds, per staging area, the bytes of the pending chunks
	// this instance wrote, so the part they go into is sent without
	// reading them back; another instance reads them from the bucket.
	pendMu  sync.Mutex
	pending map[string]*pendingBytes
}

type pendingBytes struct {
	start int64
	b     []byte
}

// maxPendingAreas bounds the pending bytes kept (each under a part).
const maxPendingAreas = 16

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
		o.PartSize = minPartSize
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
		log: o.Logger, clock: o.Clock, pending: map[string]*pendingBytes{}}
	if err := s.checkBucket(ctx, o.CreateBucket, o.Region); err != nil {
		return nil, err
	}
	if err := s.probePayloadCheck(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// probePayloadCheck finds out whether the server refuses a body that does
// not hash to the request's signed x-amz-content-sha256 (AWS S3, MinIO and
// versitygw do), by putting one under staging/ that does not. If the
// server stores it, it is deleted again and chunks are hashed here too
// (hashChunks), with a warning: the object's whole SHA-256, checked at
// commit, is computed here either way.
func (s *S3) probePayloadCheck(ctx context.Context) error {
	key := s3Staging + "payload-check-" + strconv.FormatInt(s.clock.Now().UnixNano(), 36)
	other := sha256.Sum256([]byte("not the body"))
	info, err := s.core.PutObject(ctx, s.bucket, key, strings.NewReader("body"), 4, "", hex.EncodeToString(other[:]), putOnce())
	switch code := errCode(err); {
	case code == "XAmzContentSHA256Mismatch" || code == "BadDigest":
		return nil
	case err != nil:
		return fmt.Errorf("evidence: s3 payload check: %w", err)
	}
	s.hashChunks = true
	s.log.Warn("evidence: the S3 server stored a body that does not hash to its signed SHA-256; chunks are hashed here too",
		"bucket", s.bucket)
	return s.removeVersion(ctx, key, info.VersionID)
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

// Keys in the bucket. Objects live at objects/<sha256>. An upload's
// staging area is staging/<id>/: its meta object (see s3Meta), the state
// object of each part of its multipart upload, s<part, 5 digits>-<start
// offset, 20 digits>-<part ETag> (the SHA-256 state of the object's bytes
// up to the part's end), and pending chunks, p<start offset, 20 digits>:
// chunks too small to be a part yet, each written once (If-None-Match).
const (
	s3Objects = "objects/"
	s3Staging = "staging/"
	s3Meta    = "meta"
	s3Pending = "p"
	s3State   = "s"
	// s3MetaMagic starts a meta object: then the declared size (8 bytes,
	// big-endian), the declared SHA-256 (32 bytes), the multipart upload
	// id's length (2 bytes) and the id, then the caller's metadata.
	s3MetaMagic = "bst2"
	s3MetaFixed = len(s3MetaMagic) + 8 + 32 + 2
)

func objectKey(id string) string        { return s3Objects + id }
func stagingKey(id, name string) string { return s3Staging + id + "/" + name }
func partKey(id string, off int64) string {
	return stagingKey(id, fmt.Sprintf("%s%020d", s3Pending, off))
}
func stateKey(id string, num int, start int64, etag string) string {
	return stagingKey(id, fmt.Sprintf("%s%05d-%020d-%s", s3State, num, start, etag))
}

// s3Area is a staging area as the bucket holds it.
type s3Area struct {
	size    int64
	sum     string // declared SHA-256, the object's key
	upload  string // the multipart upload of objects/<sum>; "" for an empty object
	gone    bool   // the server no longer has the upload
	meta    []byte
	parts   []s3Part  // the multipart upload's chain of parts from offset 0
	pend    []s3Piece // then the chain of pending chunks
	partEnd int64     // end of parts
	off     int64     // durable end: end of pend
	touched time.Time
}

// s3Part is a part of the upload that has its state object.
type s3Part struct {
	num        int
	etag       string // as the server named it, unquoted
	start, len int64
	state      string // key of its state object
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

func encodeMeta(size int64, sum, upload string, meta []byte) []byte {
	m := append([]byte(s3MetaMagic), binary.BigEndian.AppendUint64(nil, uint64(size))...)
	b, _ := hex.DecodeString(sum)
	m = append(m, b...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(upload)))
	m = append(m, upload...)
	return append(m, meta...)
}

func decodeMeta(m []byte, a *s3Area) error {
	if len(m) < s3MetaFixed || string(m[:len(s3MetaMagic)]) != s3MetaMagic {
		return fmt.Errorf("meta object of %d bytes is not a staging area's", len(m))
	}
	m = m[len(s3MetaMagic):]
	a.size = int64(binary.BigEndian.Uint64(m))
	a.sum = hex.EncodeToString(m[8:40])
	n := int(binary.BigEndian.Uint16(m[40:]))
	m = m[42:]
	if a.size < 0 || n > len(m) || len(m)-n > MaxMetaLen {
		return fmt.Errorf("meta object: size %d, upload id of %d bytes", a.size, n)
	}
	a.upload, a.meta = string(m[:n]), m[n:]
	return nil
}

// load reads staging area id from the bucket: its meta object, the parts
// of its multipart upload that have their state objects, in a chain from
// offset 0, then the chain of pending chunks.
func (s *S3) load(ctx context.Context, id string) (*s3Area, error) {
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, stagingKey(id, s3Meta), minio.GetObjectOptions{})
	if notFound(err) {
		return nil, fmt.Errorf("%w: staging %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	m, err := io.ReadAll(io.LimitReader(rc, int64(s3MetaFixed+1<<16+MaxMetaLen+1)))
	rc.Close()
	if notFound(err) {
		return nil, fmt.Errorf("%w: staging %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	a := &s3Area{}
	if err := decodeMeta(m, a); err != nil {
		return nil, fmt.Errorf("%w: staging %s: %w", ErrCorrupt, id, err)
	}
	// The server's parts: number -> ETag, size.
	type serverPart struct {
		etag string
		size int64
	}
	have := map[int]serverPart{}
	for marker := 0; a.upload != ""; {
		res, err := s.core.ListObjectParts(ctx, s.bucket, objectKey(a.sum), a.upload, marker, 1000)
		if errCode(err) == "NoSuchUpload" {
			a.gone = true // completed (a commit that crashed before dropping the area) or aborted
			break
		}
		if err != nil {
			return nil, err
		}
		for _, p := range res.ObjectParts {
			have[p.PartNumber] = serverPart{strings.Trim(p.ETag, `"`), p.Size}
		}
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			break
		}
		marker = res.NextPartNumberMarker
	}
	states := map[int][]s3Part{}
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: stagingKey(id, ""), Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		if o.LastModified.After(a.touched) {
			a.touched = o.LastModified
		}
		name := strings.TrimPrefix(o.Key, stagingKey(id, ""))
		switch {
		case strings.HasPrefix(name, s3Pending):
			start, err := strconv.ParseInt(name[len(s3Pending):], 10, 64)
			if err == nil {
				a.pend = append(a.pend, s3Piece{key: o.Key, start: start, len: o.Size})
			}
		case strings.HasPrefix(name, s3State):
			f := strings.SplitN(name[len(s3State):], "-", 3)
			if len(f) != 3 {
				continue
			}
			num, err1 := strconv.Atoi(f[0])
			start, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 == nil && err2 == nil {
				states[num] = append(states[num], s3Part{num: num, etag: f[2], start: start, state: o.Key})
			}
		}
	}
	// The parts' chain: part k counts if the server holds it and its
	// state object names the server's ETag and starts where part k-1
	// ended. A part without its state (a crash between the two writes,
	// or a lost race) ends the chain; the next append rewrites it.
chain:
	for num := 1; ; num++ {
		sp, ok := have[num]
		if !ok {
			break
		}
		for _, p := range states[num] {
			if p.etag == sp.etag && p.start == a.partEnd && sp.size > 0 && sp.size <= a.size-a.partEnd {
				p.len = sp.size
				a.parts = append(a.parts, p)
				a.partEnd += sp.size
				continue chain
			}
		}
		break
	}
	if a.gone {
		// A commit completed the upload and stopped before it dropped the
		// area: all of it is staged, and Commit finds the object and
		// verifies it. Without the object the upload was aborted (a
		// discard under way, or one that stopped): the staged bytes can
		// never become evidence, so the area is dropped and is not found.
		if _, err := s.Stat(ctx, a.sum); errors.Is(err, ErrNotFound) {
			if err := s.dropKeys(ctx, id); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: staging %s (its upload was aborted)", ErrNotFound, id)
		} else if err != nil {
			return nil, err
		}
		a.parts, a.pend, a.partEnd, a.off = nil, nil, a.size, a.size
		return a, nil
	}
	a.off = a.partEnd
	sort.Slice(a.pend, func(i, j int) bool { return a.pend[i].start < a.pend[j].start })
	chain := a.pend[:0]
	for _, p := range a.pend {
		if p.start != a.off || p.len <= 0 || p.len > a.size-a.off {
			// Below the parts (already in one), or off the chain: a
			// leftover of a failed race; the chain ends at the first gap.
			if p.start > a.off {
				break
			}
			continue
		}
		chain = append(chain, p)
		a.off += p.len
	}
	a.pend = chain
	return a, nil
}

// Begin implements Store. It starts the multipart upload of
// objects/<sha256hex>, with the store's lock mode and retention, and
// writes the meta object once (If-None-Match), so the first Begin's
// metadata and upload stand whichever instance made them; a loser aborts
// its upload.
func (s *S3) Begin(ctx context.Context, id string, size int64, sha256hex string, meta []byte) (Staging, error) {
	if err := ValidStagingID(id); err != nil {
		return Staging{}, err
	}
	if err := ValidObjectID(sha256hex); err != nil {
		return Staging{}, fmt.Errorf("evidence: begin %s: %w", id, err)
	}
	if size < 0 || size > maxS3Size {
		return Staging{}, fmt.Errorf("%w: size %d", ErrSizeMismatch, size)
	}
	if len(meta) > MaxMetaLen {
		return Staging{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMeta, len(meta), MaxMetaLen)
	}
	a, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		a, err = s.begin(ctx, id, size, sha256hex, meta)
	}
	if err != nil {
		return Staging{}, fmt.Errorf("evidence: begin %s: %w", id, err)
	}
	if a.sum != sha256hex {
		return Staging{}, fmt.Errorf("evidence: begin %s: %w: staging declared %s, not %s", id, ErrHashMismatch, a.sum, sha256hex)
	}
	return a.staging(id), nil
}

// maxS3Size is what 10,000 parts of at most 5 GiB hold, rounded down.
const maxS3Size = 5 << 40

func (s *S3) begin(ctx context.Context, id string, size int64, sum string, meta []byte) (*s3Area, error) {
	var upload string
	if size > 0 {
		var err error
		if upload, err = s.core.NewMultipartUpload(ctx, s.bucket, objectKey(sum), s.lockOpts()); err != nil {
			return nil, err
		}
	}
	m := encodeMeta(size, sum, upload, meta)
	ms := sha256.Sum256(m)
	_, err := s.core.PutObject(ctx, s.bucket, stagingKey(id, s3Meta), bytes.NewReader(m), int64(len(m)), "",
		hex.EncodeToString(ms[:]), putOnce())
	if err != nil && upload != "" {
		// Another instance began this area meanwhile (or the put failed):
		// its upload stands, not ours.
		s.abort(ctx, sum, upload)
	}
	if err != nil && errCode(err) != "PreconditionFailed" {
		return nil, err
	}
	return s.load(ctx, id)
}

func (s *S3) abort(ctx context.Context, sum, upload string) {
	err := s.core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, objectKey(sum), upload)
	if err != nil && errCode(err) != "NoSuchUpload" {
		s.log.Warn("evidence: aborting multipart upload", "object", sum, "upload", upload, "err", err)
	}
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

// Append implements Store. A chunk that, with the pending chunks before
// it, makes at least a part (5 MiB, S3's minimum) or ends the object is
// uploaded as the next part of the object's multipart upload, together
// with the pending chunks, and the SHA-256 state of the object's bytes up
// to its end is written beside it (the part counts once both are
// written); a smaller one becomes a pending chunk, written only if none
// exists at its offset (If-None-Match). Every request carries its body's
// SHA-256 as the signed payload hash, which the S3 server checks before
// it stores anything; the chunk is hashed here as it streams too.
func (s *S3) Append(ctx context.Context, id string, off int64, r io.Reader, n int64, chunkSHA256 string) (int64, error) {
	if err := ValidStagingID(id); err != nil {
		return 0, err
	}
	a, err := s.load(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("evidence: append %s: %w", id, err)
	}
	end, err := s.appendChunk(ctx, id, a, off, r, n, chunkSHA256)
	if err != nil {
		return end, fmt.Errorf("evidence: append %s: %w", id, err)
	}
	return end, nil
}

func (s *S3) appendChunk(ctx context.Context, id string, a *s3Area, off int64, r io.Reader, n int64, want string) (int64, error) {
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
	if off+n < a.size && off-a.partEnd+n < s.part {
		return s.appendPending(ctx, id, a, off, r, n, want)
	}
	return s.appendPart(ctx, id, a, off, r, n, want)
}

// appendPending writes a chunk as a pending chunk object.
func (s *S3) appendPending(ctx context.Context, id string, a *s3Area, off int64, r io.Reader, n int64, want string) (int64, error) {
	keep := s.keptPending(id, a.partEnd, off)
	var b []byte
	if keep != nil {
		b = make([]byte, 0, n)
	}
	hr := &hashReader{r: r, left: n, h: s.chunkHash(), keep: b}
	info, perr := s.core.PutObject(ctx, s.bucket, partKey(id, off), hr, n, "", want, putOnce())
	if err := s.chunkErr(ctx, id, a, off, n, want, hr, perr, func() {
		if err := s.removeVersion(ctx, partKey(id, off), info.VersionID); err != nil {
			s.log.Error("evidence: removing a chunk that does not hash to its sum", "staging", id, "off", off, "err", err)
		}
	}); err != nil {
		s.dropPending(id)
		return a.off, err
	}
	if keep != nil {
		s.pendMu.Lock()
		keep.b = append(keep.b, hr.keep...)
		s.pendMu.Unlock()
	}
	return off + n, nil
}

// keptPending returns the kept pending bytes of area id if they are those
// from partEnd to off (a fresh entry if off is partEnd), or nil.
func (s *S3) keptPending(id string, partEnd, off int64) *pendingBytes {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	p := s.pending[id]
	if p != nil && p.start == partEnd && p.start+int64(len(p.b)) == off {
		return p
	}
	delete(s.pending, id)
	if off != partEnd || len(s.pending) >= maxPendingAreas {
		return nil
	}
	p = &pendingBytes{start: partEnd}
	s.pending[id] = p
	return p
}

func (s *S3) dropPending(id string) {
	s.pendMu.Lock()
	delete(s.pending, id)
	s.pendMu.Unlock()
}

// chunkErr sorts out how writing a chunk went.
func (s *S3) chunkErr(ctx context.Context, id string, a *s3Area, off, n int64, want string, hr *hashReader, perr error, drop func()) error {
	switch code := errCode(perr); {
	case hr.err != nil:
		return fmt.Errorf("%w: %d of %d bytes: %w", ErrShortChunk, hr.read, n, hr.err)
	case hr.h != nil && hr.read == n && hex.EncodeToString(hr.h.Sum(nil)) != want:
		if perr == nil { // stored despite its hash (a server not checking payload hashes): drop it
			drop()
		}
		return fmt.Errorf("%w: chunk hashes to %x, expected %s", ErrChunkSum, hr.h.Sum(nil), want)
	case code == "XAmzContentSHA256Mismatch" || code == "BadDigest":
		return fmt.Errorf("%w: the S3 server refused the chunk: %w", ErrChunkSum, perr)
	case code == "PreconditionFailed":
		if b, lerr := s.load(ctx, id); lerr == nil {
			a = b
		}
		return fmt.Errorf("%w: offset %d written by another append meanwhile, durable end %d", ErrOffset, off, a.off)
	case perr != nil:
		return perr
	}
	return nil
}

// appendPart uploads the pending chunks and this one as the next part,
// then its state object.
func (s *S3) appendPart(ctx context.Context, id string, a *s3Area, off int64, r io.Reader, n int64, want string) (int64, error) {
	whole, err := s.wholeHash(ctx, a)
	if err != nil {
		return a.off, err
	}
	num := len(a.parts) + 1
	if num > 10000 {
		return a.off, fmt.Errorf("%w: more than 10000 parts", ErrTooLarge)
	}
	key := objectKey(a.sum)
	hr := &hashReader{r: r, left: n, h: s.chunkHash()}
	var part minio.ObjectPart
	var perr error
	if len(a.pend) == 0 {
		// The chunk is the part: streamed, its sum the signed payload hash.
		hr.also = whole
		part, perr = s.core.PutObjectPart(ctx, s.bucket, key, a.upload, num, hr, n,
			minio.PutObjectPartOptions{Sha256Hex: want, DisableContentSha256: true})
	} else {
		// The pending chunks and this one: gathered, hashed, sent. The
		// part's signed SHA-256 is of all of them, so this chunk's sum is
		// checked here.
		hr.h = sha256.New()
		pn := off - a.partEnd
		buf := make([]byte, pn+n)
		s.pendMu.Lock()
		p := s.pending[id]
		kept := p != nil && p.start == a.partEnd && int64(len(p.b)) == pn
		if kept {
			copy(buf, p.b)
		}
		delete(s.pending, id)
		s.pendMu.Unlock()
		if !kept {
			if err := s.readPending(ctx, a, buf[:pn]); err != nil {
				return a.off, err
			}
		}
		if _, err := io.ReadFull(hr, buf[pn:]); err != nil && hr.err == nil {
			hr.err = err
		}
		if hr.err != nil || hex.EncodeToString(hr.h.Sum(nil)) != want {
			return a.off, s.chunkErr(ctx, id, a, off, n, want, hr, nil, func() {}) // nothing sent
		}
		whole.Write(buf)
		ps := sha256.Sum256(buf)
		part, perr = s.core.PutObjectPart(ctx, s.bucket, key, a.upload, num, bytes.NewReader(buf), int64(len(buf)),
			minio.PutObjectPartOptions{Sha256Hex: hex.EncodeToString(ps[:]), DisableContentSha256: true})
	}
	if err := s.chunkErr(ctx, id, a, off, n, want, hr, perr, func() {}); err != nil {
		// A part that does not hash to its chunk's sum has no state
		// object, so it does not count; the next append rewrites it.
		return a.off, err
	}
	st, err := whole.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return a.off, err
	}
	ss := sha256.Sum256(st)
	_, err = s.core.PutObject(ctx, s.bucket, stateKey(id, num, a.partEnd, strings.Trim(part.ETag, `"`)), bytes.NewReader(st),
		int64(len(st)), "", hex.EncodeToString(ss[:]), putOnce())
	if err != nil && errCode(err) != "PreconditionFailed" { // the same part's same state, written by another instance
		return a.off, err
	}
	// The pending chunks are in the part now; load skips them, and Commit
	// or Discard deletes them with the area (by version: a plain delete
	// here would only add a delete marker, and cost the server a move).
	return off + n, nil
}

// wholeHash is the SHA-256 state of the area's bytes to the end of its
// parts, from the last part's state object.
func (s *S3) wholeHash(ctx context.Context, a *s3Area) (hash.Hash, error) {
	h := sha256.New()
	if len(a.parts) == 0 {
		return h, nil
	}
	last := a.parts[len(a.parts)-1]
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, last.state, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	st, err := io.ReadAll(io.LimitReader(rc, 1024))
	rc.Close()
	if err != nil {
		return nil, err
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
		return nil, fmt.Errorf("%w: state of part %d: %w", ErrCorrupt, last.num, err)
	}
	return h, nil
}

// readPending reads the area's pending chunks into b.
func (s *S3) readPending(ctx context.Context, a *s3Area, b []byte) error {
	for _, p := range a.pend {
		rc, _, _, err := s.core.GetObject(ctx, s.bucket, p.key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		_, err = io.ReadFull(rc, b[p.start-a.partEnd:p.start-a.partEnd+p.len])
		rc.Close()
		if err != nil {
			return fmt.Errorf("%w: pending chunk %s: %w", ErrCorrupt, p.key, err)
		}
	}
	return nil
}

// chunkHash is a hash for a chunk sent as it came: nil (none) when the
// server checks the signed payload hash, which is the chunk's sum.
func (s *S3) chunkHash() hash.Hash {
	if s.hashChunks {
		return sha256.New()
	}
	return nil
}

// hashReader reads exactly left bytes of r, hashing them; an early end or
// a read error is kept in err.
type hashReader struct {
	r    io.Reader
	left int64
	read int64
	h    hash.Hash // if set, the chunk's own hash
	also hash.Hash // if set, fed the same bytes
	keep []byte    // if not nil, the bytes are appended
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
	if h.h != nil {
		h.h.Write(p[:n])
	}
	if h.also != nil {
		h.also.Write(p[:n])
	}
	if h.keep != nil {
		h.keep = append(h.keep, p[:n]...)
	}
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
	s.dropPending(id)
	if a, err := s.load(ctx, id); err == nil && a.upload != "" && !a.gone {
		err := s.core.AbortMultipartUpload(ctx, s.bucket, objectKey(a.sum), a.upload)
		if err != nil && errCode(err) != "NoSuchUpload" {
			return err
		}
	}
	return s.dropKeys(ctx, id)
}

// dropKeys deletes every version of every key of staging area id, its
// meta object last (the area exists until its parts are gone).
func (s *S3) dropKeys(ctx context.Context, id string) error {
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
		if errors.Is(err, ErrCorrupt) {
			// Not an area this code can continue (one staged before the
			// upload moved into the multipart upload): listed without
			// meta, so the sweep discards it once it is old enough.
			t, terr := s.lastWrite(ctx, id)
			if terr != nil {
				return nil, fmt.Errorf("evidence: staging %s: %w", id, terr)
			}
			s.log.Warn("evidence: unreadable staging area", "staging", id, "touched", t, "err", err)
			out = append(out, StagingArea{ID: id, Touched: t})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("evidence: staging %s: %w", id, err)
		}
		out = append(out, StagingArea{ID: id, Size: a.size, Meta: a.meta, Touched: a.touched})
	}
	return out, nil
}

// lastWrite is the time of the last write under staging area id.
func (s *S3) lastWrite(ctx context.Context, id string) (time.Time, error) {
	var t time.Time
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: stagingKey(id, ""), Recursive: true}) {
		if o.Err != nil {
			return time.Time{}, o.Err
		}
		if o.LastModified.After(t) {
			t = o.LastModified.UTC()
		}
	}
	return t, nil
}

// MultipartUpload is a multipart upload in progress in the bucket.
type MultipartUpload struct {
	Object   string // the object id (SHA-256) it would complete
	UploadID string
	// Staging is the staging area whose upload it is; "" if no staging
	// area names it (an orphan: a Begin that stopped before its meta
	// object, a racing Begin's loser whose abort failed, a discard that
	// stopped half-way).
	Staging string
	// Progress is its last progress by the server's clock: its start, its
	// last part, and its staging area's last write.
	Progress time.Time
}

// MultipartUploads lists the multipart uploads in progress of objects/,
// each with the staging area that names it and its last progress. An area
// whose meta object does not read (one written before the upload moved
// into the multipart upload) names no upload; it is logged and skipped.
func (s *S3) MultipartUploads(ctx context.Context) ([]MultipartUpload, error) {
	type area struct {
		id      string
		touched time.Time
	}
	areas := map[string]area{} // upload id -> its staging area
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s3Staging}) {
		if o.Err != nil {
			return nil, fmt.Errorf("evidence: multipart uploads: %w", o.Err)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(o.Key, s3Staging), "/")
		if ValidStagingID(id) != nil {
			continue
		}
		a, err := s.load(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case errors.Is(err, ErrCorrupt):
			s.log.Warn("evidence: a staging area names no upload", "staging", id, "err", err)
			continue
		case err != nil:
			return nil, fmt.Errorf("evidence: multipart uploads: staging %s: %w", id, err)
		}
		if a.upload != "" {
			areas[a.upload] = area{id, a.touched}
		}
	}
	var out []MultipartUpload
	for u := range s.c.ListIncompleteUploads(ctx, s.bucket, s3Objects, true) {
		if u.Err != nil {
			return nil, fmt.Errorf("evidence: multipart uploads: %w", u.Err)
		}
		id := strings.TrimPrefix(u.Key, s3Objects)
		if ValidObjectID(id) != nil {
			continue
		}
		m := MultipartUpload{Object: id, UploadID: u.UploadID, Progress: u.Initiated.UTC()}
		if a, ok := areas[u.UploadID]; ok {
			m.Staging = a.id
			if a.touched.After(m.Progress) {
				m.Progress = a.touched.UTC()
			}
		}
		for marker := 0; ; {
			res, err := s.core.ListObjectParts(ctx, s.bucket, u.Key, u.UploadID, marker, 1000)
			if errCode(err) == "NoSuchUpload" {
				break // completed or aborted meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("evidence: multipart uploads: parts of %s: %w", id, err)
			}
			for _, p := range res.ObjectParts {
				if p.LastModified.After(m.Progress) {
					m.Progress = p.LastModified.UTC()
				}
			}
			if !res.IsTruncated || res.NextPartNumberMarker <= marker {
				break
			}
			marker = res.NextPartNumberMarker
		}
		out = append(out, m)
	}
	return out, nil
}

// AbortUpload aborts orphaned multipart upload u (its parts are never
// evidence: the dock holds the footage until a receipt); nil if it is gone
// already. An upload a staging area names is refused: it ends with its
// area (Discard, by the upload endpoint's sweep). Which orphans are
// abandoned is the caller's policy (custody.Orphans); this is the
// mechanism.
func (s *S3) AbortUpload(ctx context.Context, u MultipartUpload) error {
	if err := ValidObjectID(u.Object); err != nil {
		return err
	}
	if u.Staging != "" {
		return fmt.Errorf("evidence: abort upload %s: staging area %s names it (discard the area)", u.UploadID, u.Staging)
	}
	err := s.core.AbortMultipartUpload(ctx, s.bucket, objectKey(u.Object), u.UploadID)
	if err != nil && errCode(err) != "NoSuchUpload" {
		return fmt.Errorf("evidence: abort upload %s of %s: %w", u.UploadID, u.Object, err)
	}
	return nil
}
