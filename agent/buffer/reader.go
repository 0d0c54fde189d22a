package buffer

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
)

// reader is an io.ReaderAt over a segment's chunks. It caches the last
// chunk it read, so sequential reads cost one lookup per chunk, and opens a
// short read transaction per lookup. Parallel ReadAt calls are serialised.
type reader struct {
	mu   sync.Mutex
	b    *Buffer
	id   segID
	size int64
	offs []int64 // chunk start offsets, ascending; offs[0] == 0
	ends []int64

	cacheIdx int
	cache    []byte
}

func (b *Buffer) newReader(id segID, size int64) (*reader, error) {
	r := &reader{b: b, id: id, size: size, cacheIdx: -1}
	pfx := chunkPrefix(id)
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx})
		defer it.Close()
		// A chunk runs to the next one's offset, the last to the end; each
		// length is checked when the chunk is read.
		for it.Rewind(); it.Valid(); it.Next() {
			off, err := parseChunkOffset(pfx, it.Item().Key())
			if err != nil {
				return err
			}
			if n := len(r.offs); (n == 0 && off != 0) || (n > 0 && off <= r.offs[n-1]) || off >= size {
				return fmt.Errorf("%w: chunk at %d out of order or past %d bytes", ErrCorrupt, off, size)
			}
			r.offs = append(r.offs, off)
		}
		if len(r.offs) == 0 && size > 0 {
			return fmt.Errorf("%w: no chunks for %d bytes", ErrCorrupt, size)
		}
		if len(r.offs) > 0 {
			r.ends = append(slices.Clone(r.offs[1:]), size)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("buffer: open %s: %w", id, err)
	}
	return r, nil
}

// Size is the segment's length.
func (r *reader) Size() int64 { return r.size }

// Close releases the cached chunk.
func (r *reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cache, r.cacheIdx = nil, -1
	return nil
}

// ReadAt implements io.ReaderAt.
func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("buffer: read %s: negative offset %d", r.id, off)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		i := sort.Search(len(r.ends), func(i int) bool { return r.ends[i] > pos })
		if err := r.load(i); err != nil {
			return n, err
		}
		n += copy(p[n:], r.cache[pos-r.offs[i]:])
	}
	return n, nil
}

func (r *reader) load(i int) error {
	if r.cacheIdx == i {
		return nil
	}
	err := r.b.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(chunkKey(r.id, r.offs[i]))
		if err != nil {
			return err
		}
		r.cache, err = item.ValueCopy(r.cache[:0])
		return err
	})
	if err == nil && int64(len(r.cache)) != r.ends[i]-r.offs[i] {
		err = fmt.Errorf("%w: chunk at %d is %d bytes, was %d", ErrCorrupt, r.offs[i], len(r.cache), r.ends[i]-r.offs[i])
	}
	if err != nil {
		r.cacheIdx = -1
		return fmt.Errorf("buffer: read %s at %d: %w", r.id, r.offs[i], err)
	}
	r.cacheIdx = i
	return nil
}
