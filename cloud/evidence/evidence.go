package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors of the evidence store, wrapped with %w and context.
var (
	ErrBadID        = errors.New("evidence: bad id")
	ErrNotFound     = errors.New("evidence: not found")
	ErrOffset       = errors.New("evidence: append not at the durable end")
	ErrTooLarge     = errors.New("evidence: larger than the staging area's declared size")
	ErrSizeMismatch = errors.New("evidence: size mismatch")
	ErrHashMismatch = errors.New("evidence: sha256 mismatch")
	ErrCorrupt      = errors.New("evidence: stored bytes do not verify")
	ErrMeta         = errors.New("evidence: bad staging metadata")
	ErrShortChunk   = errors.New("evidence: chunk ended early")
	ErrChunkSum     = errors.New("evidence: chunk sha256 mismatch")
)

// MaxMetaLen bounds the caller's staging metadata.
const MaxMetaLen = 4096

// Store is the evidence store the upload endpoint writes into. Objects are
// write-once and addressed by their SHA-256; nothing in the interface
// overwrites or deletes one.
type Store interface {
	// Begin creates the staging area id for an object of size bytes that
	// is declared to hash to sha256hex (lowercase hex), with the caller's
	// meta, or returns it as it stands if it exists already (its meta is
	// the one first given). A backend may place the bytes by the declared
	// hash as they arrive (S3 does); Commit still verifies them, and S3
	// refuses to begin an existing area under another hash or to commit it
	// as another (ErrHashMismatch).
	Begin(ctx context.Context, id string, size int64, sha256hex string, meta []byte) (Staging, error)
	// Staged returns staging area id; ErrNotFound if there is none.
	Staged(ctx context.Context, id string) (Staging, error)
	// Append reads n bytes from r and durably writes them at off, which
	// must be the staging area's durable offset (ErrOffset otherwise), and
	// returns the new durable offset. The bytes count only if all n arrive
	// (ErrShortChunk) and they hash to chunkSHA256, lowercase hex
	// (ErrChunkSum); otherwise the durable offset stays where it was.
	// Appends to one staging area are serialised; callers bound how long r
	// may take (a read deadline), since it holds the area meanwhile.
	Append(ctx context.Context, id string, off int64, r io.Reader, n int64, chunkSHA256 string) (int64, error)
	// Commit verifies that the staged bytes are exactly size long and hash
	// to sha256hex and makes them the object of that hash, durably, before
	// returning it. A mismatch is ErrSizeMismatch or ErrHashMismatch and
	// leaves the staging area as it was.
	Commit(ctx context.Context, id string, sha256hex string, size int64) (Object, error)
	// Discard drops a staging area (never an object); nil if it is gone.
	Discard(ctx context.Context, id string) error
	// Stat describes the object ref names (an object id, or an Object.Ref
	// naming one stored version); ErrNotFound if there is none. For a bare
	// id a versioned backend answers with the object's first version, the
	// one written once and locked, never a later one.
	Stat(ctx context.Context, ref string) (Object, error)
	// Open returns the bytes of the object ref names (as Stat); the caller
	// closes it.
	Open(ctx context.Context, ref string) (Reader, error)
}

// Reader reads an object.
type Reader interface {
	io.ReaderAt
	io.ReadSeekCloser
}

// Staging is a staging area as it stands.
type Staging struct {
	ID     string
	Size   int64  // declared size of the object being staged
	Offset int64  // durable bytes so far
	Meta   []byte // the caller's metadata given to Begin
}

// Object is a committed evidence object.
type Object struct {
	ID       string // lowercase hex SHA-256 of the bytes
	SHA256   string
	Size     int64
	StoredAt time.Time
	// Version is the backend's id of the stored version ("" where the
	// backend keeps no versions: FS). An S3 bucket with object lock keeps
	// every put as a version, so a receipt must name this one.
	Version string
}

// Ref names exactly this stored object: its id, and "@" and its version
// where it has one. Receipts carry it as their object, and reads by it go
// to that version.
func (o Object) Ref() string {
	if o.Version == "" {
		return o.ID
	}
	return o.ID + "@" + o.Version
}

// ParseRef splits an object ref into its object id and version ("" if it
// names none), checking both.
func ParseRef(ref string) (id, version string, err error) {
	id, version, _ = strings.Cut(ref, "@")
	if err := ValidObjectID(id); err != nil {
		return "", "", err
	}
	if strings.Contains(ref, "@") && !validVersion(version) {
		return "", "", fmt.Errorf("%w: version %.80q", ErrBadID, version)
	}
	return id, version, nil
}

// validVersion accepts 1..128 of [A-Za-z0-9._-] (S3 version ids).
func validVersion(v string) bool {
	if v == "" || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidObjectID checks that id is a lowercase hex SHA-256 (64 digits).
func ValidObjectID(id string) error {
	if len(id) != 64 || !lowerHex(id) {
		return fmt.Errorf("%w: object id %.80q is not 64 lowercase hex digits", ErrBadID, id)
	}
	return nil
}

// ValidStagingID checks that id is 16 to 64 lowercase hex digits, so it can
// name a directory and nothing else.
func ValidStagingID(id string) error {
	if len(id) < 16 || len(id) > 64 || !lowerHex(id) {
		return fmt.Errorf("%w: staging id %.80q is not 16..64 lowercase hex digits", ErrBadID, id)
	}
	return nil
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
