package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// Begin creates the staging area id for an object of size bytes, with
	// the caller's meta, or returns it as it stands if it exists already
	// (its meta is the one first given).
	Begin(ctx context.Context, id string, size int64, meta []byte) (Staging, error)
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
	// Stat describes object id; ErrNotFound if there is none.
	Stat(ctx context.Context, id string) (Object, error)
	// Open returns object id's bytes; the caller closes it.
	Open(ctx context.Context, id string) (Reader, error)
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
