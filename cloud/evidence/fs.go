package evidence

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// FS is the filesystem backend of Store (see the package doc for its
// layout and durability). It is safe for concurrent use.
type FS struct {
	root string
	log  *slog.Logger

	mu    sync.Mutex
	areas map[string]*area

	bufs sync.Pool // *[]byte of copyBuf bytes
}

// copyBuf is the size of the buffers chunks are streamed through.
const copyBuf = 1 << 20

var _ Store = (*FS)(nil)

// area is the in-memory view of one staging area; mu serialises every
// operation on it.
type area struct {
	mu     sync.Mutex
	gone   bool // removed from FS.areas; re-fetch
	loaded bool
	size   int64
	off    int64
	meta   []byte
}

const (
	objectsDir = "objects"
	stagingDir = "staging"
	metaFile   = "meta"
	dataFile   = "data"
	chunksFile = "chunks"
	chunkRec   = 8 + sha256.Size // end offset, chunk SHA-256
	metaHeader = 8               // declared size
)

// OpenFS opens (creating if needed) a filesystem evidence store at root.
func OpenFS(root string, log *slog.Logger) (*FS, error) {
	if log == nil {
		log = slog.Default()
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("evidence: root %q: %w", root, err)
	}
	for _, d := range []string{abs, filepath.Join(abs, objectsDir), filepath.Join(abs, stagingDir)} {
		if err := mkdirSynced(d); err != nil {
			return nil, fmt.Errorf("evidence: open %s: %w", abs, err)
		}
	}
	f := &FS{root: abs, log: log, areas: make(map[string]*area)}
	f.bufs.New = func() any { b := make([]byte, copyBuf); return &b }
	return f, nil
}

// String names the store.
func (f *FS) String() string { return "evidence.FS(" + f.root + ")" }

func (f *FS) stagingPath(id string, name ...string) string {
	return filepath.Join(append([]string{f.root, stagingDir, id}, name...)...)
}

func (f *FS) objectPath(id string) string {
	return filepath.Join(f.root, objectsDir, id[:2], id)
}

// with runs fn holding staging area id's lock.
func (f *FS) with(ctx context.Context, id string, fn func(a *area) error) error {
	if err := ValidStagingID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for {
		f.mu.Lock()
		a := f.areas[id]
		if a == nil {
			a = &area{}
			f.areas[id] = a
		}
		f.mu.Unlock()
		a.mu.Lock()
		if a.gone {
			a.mu.Unlock()
			continue
		}
		err := fn(a)
		a.mu.Unlock()
		return err
	}
}

// forget drops a's map entry; a.mu is held.
func (f *FS) forget(id string, a *area) {
	f.mu.Lock()
	if f.areas[id] == a {
		delete(f.areas, id)
	}
	f.mu.Unlock()
	a.gone = true
}

func (a *area) staging(id string) Staging {
	return Staging{ID: id, Size: a.size, Offset: a.off, Meta: append([]byte(nil), a.meta...)}
}

// Begin implements Store. The declared hash is checked for form only:
// the directory backend places the bytes by hash at Commit.
func (f *FS) Begin(ctx context.Context, id string, size int64, sha256hex string, meta []byte) (Staging, error) {
	if err := ValidObjectID(sha256hex); err != nil {
		return Staging{}, fmt.Errorf("evidence: begin %s: %w", id, err)
	}
	if size < 0 {
		return Staging{}, fmt.Errorf("%w: negative size %d", ErrSizeMismatch, size)
	}
	if len(meta) > MaxMetaLen {
		return Staging{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMeta, len(meta), MaxMetaLen)
	}
	var st Staging
	err := f.with(ctx, id, func(a *area) error {
		err := f.load(id, a)
		if errors.Is(err, ErrNotFound) {
			err = f.create(id, size, meta)
			if err == nil || errors.Is(err, fs.ErrExist) {
				err = f.load(id, a)
			}
		}
		st = a.staging(id)
		return err
	})
	if err != nil {
		return Staging{}, fmt.Errorf("evidence: begin %s: %w", id, err)
	}
	return st, nil
}

// create builds a staging area in a temporary directory and renames it into
// place, so a crash leaves either nothing or a complete area.
func (f *FS) create(id string, size int64, meta []byte) error {
	var rnd [8]byte
	rand.Read(rnd[:])
	parent := filepath.Join(f.root, stagingDir)
	tmp := filepath.Join(parent, ".tmp-"+id+"-"+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	m := binary.BigEndian.AppendUint64(nil, uint64(size))
	m = append(m, meta...)
	for _, file := range []struct {
		name string
		b    []byte
	}{{metaFile, m}, {dataFile, nil}, {chunksFile, nil}} {
		if err := writeSynced(filepath.Join(tmp, file.name), file.b); err != nil {
			return err
		}
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	dst := f.stagingPath(id)
	if _, err := os.Lstat(dst); err == nil {
		return fs.ErrExist
	}
	if err := os.Rename(tmp, dst); err != nil {
		if _, serr := os.Lstat(dst); serr == nil {
			return fs.ErrExist // another process made it meanwhile
		}
		return err
	}
	ok = true
	return syncDir(parent)
}

// load reads staging area id into a (once), recovering its durable offset
// from the chunk log and truncating any unacknowledged tail.
func (f *FS) load(id string, a *area) error {
	if a.loaded {
		return nil
	}
	m, err := os.ReadFile(f.stagingPath(id, metaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: staging %s", ErrNotFound, id)
	}
	if err != nil {
		return err
	}
	if len(m) < metaHeader || len(m) > metaHeader+MaxMetaLen || int64(binary.BigEndian.Uint64(m)) < 0 {
		return fmt.Errorf("%w: staging %s meta file of %d bytes", ErrCorrupt, id, len(m))
	}
	size := int64(binary.BigEndian.Uint64(m))
	log, err := os.ReadFile(f.stagingPath(id, chunksFile))
	if err != nil {
		return err
	}
	var off int64
	whole := len(log) - len(log)%chunkRec
	for i := 0; i < whole; i += chunkRec {
		end := int64(binary.BigEndian.Uint64(log[i:]))
		if end <= off || end > size {
			return fmt.Errorf("%w: staging %s chunk log record %d ends at %d after %d (size %d)",
				ErrCorrupt, id, i/chunkRec, end, off, size)
		}
		off = end
	}
	if whole != len(log) {
		f.log.Warn("evidence: dropping torn chunk log record", "staging", id, "bytes", len(log)-whole)
		if err := truncateSynced(f.stagingPath(id, chunksFile), int64(whole)); err != nil {
			return err
		}
	}
	fi, err := os.Stat(f.stagingPath(id, dataFile))
	if err != nil {
		return err
	}
	switch {
	case fi.Size() < off:
		return fmt.Errorf("%w: staging %s holds %d bytes, its log acknowledges %d", ErrCorrupt, id, fi.Size(), off)
	case fi.Size() > off:
		f.log.Warn("evidence: truncating unacknowledged staging tail", "staging", id, "from", fi.Size(), "to", off)
		if err := truncateSynced(f.stagingPath(id, dataFile), off); err != nil {
			return err
		}
	}
	a.size, a.off, a.meta, a.loaded = size, off, m[metaHeader:], true
	return nil
}

// Staged implements Store.
func (f *FS) Staged(ctx context.Context, id string) (Staging, error) {
	var st Staging
	err := f.with(ctx, id, func(a *area) error {
		err := f.load(id, a)
		st = a.staging(id)
		return err
	})
	if err != nil {
		return Staging{}, fmt.Errorf("evidence: staged %s: %w", id, err)
	}
	return st, nil
}

// Append implements Store. The chunk is streamed to the data file past
// the durable end (writeback started as it goes) while it is hashed; only
// when all of it arrived and its hash matches is it synced, then its log
// record appended and synced, then the call returns. Bytes of a failed
// append are truncated away (and would be on the next load anyway: they
// are past the log's end).
func (f *FS) Append(ctx context.Context, id string, off int64, r io.Reader, n int64, chunkSHA256 string) (int64, error) {
	var end int64
	err := f.with(ctx, id, func(a *area) error {
		if err := f.load(id, a); err != nil {
			return err
		}
		end = a.off
		switch {
		case off != a.off:
			return fmt.Errorf("%w: offset %d, durable end %d", ErrOffset, off, a.off)
		case n < 0 || n > a.size-a.off:
			return fmt.Errorf("%w: %d bytes at %d exceed size %d", ErrTooLarge, n, off, a.size)
		case len(chunkSHA256) != 64 || !lowerHex(chunkSHA256):
			return fmt.Errorf("%w: chunk sha256 %.80q is not 64 lowercase hex digits", ErrChunkSum, chunkSHA256)
		}
		if n == 0 {
			if chunkSHA256 != emptySHA256 {
				return fmt.Errorf("%w: empty chunk, sha256 %s", ErrChunkSum, chunkSHA256)
			}
			return nil
		}
		if err := f.appendChunk(id, off, r, n, chunkSHA256); err != nil {
			if terr := truncateSynced(f.stagingPath(id, dataFile), off); terr != nil {
				a.loaded = false // reload: it truncates whatever tail the failure left
			}
			return err
		}
		a.off += n
		end = a.off
		return nil
	})
	if err != nil {
		return end, fmt.Errorf("evidence: append %s: %w", id, err)
	}
	return end, nil
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// writebackEvery is how many bytes are written between starts of
// asynchronous writeback, so the final sync has little left to wait for.
const writebackEvery = 1 << 20

func (f *FS) appendChunk(id string, off int64, r io.Reader, n int64, want string) error {
	d, err := os.OpenFile(f.stagingPath(id, dataFile), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	bp := f.bufs.Get().(*[]byte)
	defer f.bufs.Put(bp)
	buf := *bp
	h := sha256.New()
	pos, kicked := off, off
	for left := n; left > 0; {
		m, err := io.ReadFull(r, buf[:min(int64(len(buf)), left)])
		if m > 0 {
			h.Write(buf[:m])
			if _, werr := d.WriteAt(buf[:m], pos); werr != nil {
				return werr
			}
			pos += int64(m)
			left -= int64(m)
		}
		if err != nil {
			return fmt.Errorf("%w: %d of %d bytes: %w", ErrShortChunk, pos-off, n, err)
		}
		if pos-kicked >= writebackEvery {
			startWriteback(d, kicked, pos-kicked)
			kicked = pos
		}
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if got := hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("%w: chunk hashes to %s, expected %s", ErrChunkSum, got, want)
	}
	if err := d.Sync(); err != nil {
		return err
	}
	rec := binary.BigEndian.AppendUint64(make([]byte, 0, chunkRec), uint64(off+n))
	rec = append(rec, sum[:]...)
	l, err := os.OpenFile(f.stagingPath(id, chunksFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := l.Write(rec); err != nil {
		l.Close()
		return err
	}
	if err := l.Sync(); err != nil {
		l.Close()
		return err
	}
	return l.Close()
}

// Discard implements Store.
func (f *FS) Discard(ctx context.Context, id string) error {
	err := f.with(ctx, id, func(a *area) error {
		if err := os.RemoveAll(f.stagingPath(id)); err != nil {
			return err
		}
		f.forget(id, a)
		return syncDir(filepath.Join(f.root, stagingDir))
	})
	if err != nil {
		return fmt.Errorf("evidence: discard %s: %w", id, err)
	}
	return nil
}

// Stat implements Store. It does not re-hash the object; Verify does.
func (f *FS) Stat(ctx context.Context, ref string) (Object, error) {
	id, err := fsRef(ref)
	if err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	fi, err := os.Stat(f.objectPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return Object{}, fmt.Errorf("%w: object %s", ErrNotFound, id)
	}
	if err != nil {
		return Object{}, fmt.Errorf("evidence: stat %s: %w", id, err)
	}
	return Object{ID: id, SHA256: id, Size: fi.Size(), StoredAt: fi.ModTime().UTC()}, nil
}

// fsRef checks a ref for FS, which keeps no versions: a ref naming one
// is not one of its objects.
func fsRef(ref string) (string, error) {
	id, version, err := ParseRef(ref)
	if err == nil && version != "" {
		err = fmt.Errorf("%w: %s names version %q; the directory store keeps no versions", ErrBadID, id, version)
	}
	return id, err
}

// Open implements Store.
func (f *FS) Open(ctx context.Context, ref string) (Reader, error) {
	id, err := fsRef(ref)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := os.Open(f.objectPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: object %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("evidence: open %s: %w", id, err)
	}
	return r, nil
}

// Verify re-reads object id and checks that its bytes hash to its id.
func (f *FS) Verify(ctx context.Context, ref string) (Object, error) {
	obj, err := f.Stat(ctx, ref)
	if err != nil {
		return Object{}, err
	}
	id := obj.ID
	if err := verifyFile(ctx, f.objectPath(id), id, obj.Size); err != nil {
		return Object{}, fmt.Errorf("evidence: verify %s: %w", id, err)
	}
	return obj, nil
}

// verifyFile re-reads path and checks its size and SHA-256.
func verifyFile(ctx context.Context, path, sha256hex string, size int64) error {
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := r.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != size {
		return fmt.Errorf("%w: %d bytes stored, %d expected", ErrSizeMismatch, fi.Size(), size)
	}
	h := sha256.New()
	if err := copyCtx(ctx, h, r); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha256hex {
		return fmt.Errorf("%w: stored bytes hash to %s, expected %s", ErrHashMismatch, got, sha256hex)
	}
	return nil
}

// copyCtx hashes r into h in 1 MiB reads, checking ctx between them.
func copyCtx(ctx context.Context, h hash.Hash, r io.Reader) error {
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
