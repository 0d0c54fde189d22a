package buffer

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/berthdock/berth/cloud/wire"
)

// Begin implements slot.Buffer: it starts or resumes the copy of a segment.
// A partial copy resumes at Offset with the hash state stored beside its
// last durable chunk; a faulty one starts over; a segment already buffered
// is refused (ErrState), as is one whose size or hash differs from what was
// buffered under its sequence number (ErrConflict: sequence numbers are
// never reused). The footage still to copy must fit (ErrFull).
func (b *Buffer) Begin(m Meta) (Writer, error) {
	if err := wire.ValidID(m.Serial); err != nil {
		return nil, fmt.Errorf("buffer: begin: serial: %w", err)
	}
	if m.Seg.Size > 1<<62 {
		return nil, fmt.Errorf("buffer: begin: %w: size %d", ErrLength, m.Seg.Size)
	}
	id := segID{m.Serial, m.Seg.Seq}
	size, sha := int64(m.Seg.Size), hex.EncodeToString(m.Seg.SHA256[:])
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	e := b.segs[id]
	if e != nil && e.writing {
		return nil, fmt.Errorf("buffer: begin %s: %w", id, ErrBusy)
	}
	if e != nil && (e.size != size || e.sha != sha) {
		return nil, fmt.Errorf("buffer: begin %s: %w: %d bytes %s, buffered as %d bytes %s", id, ErrConflict, size, sha, e.size, e.sha)
	}
	if e != nil && e.phase != PhasePartial && e.phase != PhaseFaulty {
		return nil, fmt.Errorf("buffer: begin %s: %w: already %s", id, ErrState, phaseName(e.phase))
	}
	if e != nil && e.phase == PhaseFaulty {
		if err := b.dropChunks(id); err != nil {
			return nil, fmt.Errorf("buffer: begin %s: drop the faulty copy: %w", id, err)
		}
		e = nil
	}

	w := &writer{b: b, id: id, size: size, buf: make([]byte, 0, b.opts.ChunkSize), spare: make([]byte, 0, b.opts.ChunkSize)}
	copy(w.want[:], m.Seg.SHA256[:])
	w.h = sha256.New()
	if e != nil {
		p, err := b.loadProgress(id)
		if err != nil {
			return nil, fmt.Errorf("buffer: begin %s: %w", id, err)
		}
		if p.Durable > size {
			return nil, fmt.Errorf("buffer: begin %s: %w: %d durable of %d", id, ErrCorrupt, p.Durable, size)
		}
		if err := w.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(p.State); err != nil {
			return nil, fmt.Errorf("buffer: begin %s: %w: hash state: %v", id, ErrCorrupt, err)
		}
		w.durable, w.chunks = p.Durable, p.Chunks
	}
	need := size - w.durable
	if err := b.roomFor(need); err != nil {
		return nil, fmt.Errorf("buffer: begin %s (%d bytes to copy): %w", id, need, err)
	}

	if e == nil {
		now := b.clock.Now().UTC()
		recorded := m.Seg.Start.Add(-time.Duration(m.Manifest.ClockOffsetMs) * time.Millisecond).UTC()
		if m.Seg.Start.IsZero() {
			recorded = now
		}
		man := m.Manifest
		man.Serial, man.Seq, man.Size, man.SHA256, man.FollowsInterruption = m.Serial, m.Seg.Seq, size, sha, m.FollowsInterruption
		r := &record{Serial: m.Serial, Seq: m.Seg.Seq, Size: size, SHA256: sha, Phase: PhasePartial,
			Follows: m.FollowsInterruption, Recorded: recorded, Manifest: man, Began: now}
		st, err := w.state()
		if err != nil {
			return nil, err
		}
		err = b.db.Update(func(txn *badger.Txn) error {
			if err := putRecord(txn, r); err != nil {
				return err
			}
			return txn.Set(progressKey(id), progress{State: st}.encode())
		})
		if err != nil {
			return nil, fmt.Errorf("buffer: begin %s: %w", id, err)
		}
		e = entryOf(r)
		b.segs[id] = e
	}
	e.writing = true
	b.reserved += need
	w.reserved = need
	return w, nil
}

// roomFor checks that n more footage bytes fit. Callers hold b.mu.
func (b *Buffer) roomFor(n int64) error {
	var held int64
	for _, e := range b.segs {
		held += e.held
	}
	if b.cap > 0 && held+b.reserved+n > b.cap {
		return fmt.Errorf("%w: %d bytes held and %d promised to running copies, capacity %d", ErrFull, held, b.reserved, b.cap)
	}
	free, err := b.free(b.dir)
	if err != nil {
		return nil // no figure on this system: the capacity alone decides
	}
	if free-b.reserved-n < b.opts.Reserve {
		return fmt.Errorf("%w: %d bytes free on disk, %d promised to running copies, %d reserved", ErrFull, free, b.reserved, b.opts.Reserve)
	}
	return nil
}

func (b *Buffer) loadProgress(id segID) (progress, error) {
	var p progress
	err := b.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(progressKey(id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) (err error) {
			p, err = decodeProgress(v)
			return err
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return progress{}, fmt.Errorf("%w: partial segment without progress", ErrCorrupt)
	}
	return p, err
}

// writer streams one segment into chunks. Its methods are not safe for
// concurrent use (a slot copies with one goroutine).
type writer struct {
	b        *Buffer
	id       segID
	size     int64
	want     [32]byte
	h        hash.Hash
	buf      []byte // bytes hashed but not yet handed to badger
	spare    []byte // the other chunk buffer (in flight, or free)
	flight   *inflight
	durable  int64
	chunks   uint32
	reserved int64
	done     bool
	err      error // sticky: a failed chunk ends the copy
}

var _ Writer = (*writer)(nil)

func (w *writer) Offset() int64 { return w.durable }

// pos is the count of bytes received: durable, in flight and buffered.
func (w *writer) pos() int64 {
	p := w.durable + int64(len(w.buf))
	if w.flight != nil {
		p += w.flight.n
	}
	return p
}

func (w *writer) state() ([]byte, error) {
	st, err := w.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("buffer: hash state: %w", err)
	}
	return st, nil
}

// Write hashes p and stores it in chunks: each full chunk is handed to
// badger in one transaction with the hash state over everything up to its
// end, and counts in Offset once badger has written it (by the next
// chunk's hand-over, Commit or Abort).
func (w *writer) Write(p []byte) (int, error) {
	switch {
	case w.done:
		return 0, fmt.Errorf("buffer: write %s: %w", w.id, ErrClosed)
	case w.err != nil:
		return 0, w.err
	case w.pos()+int64(len(p)) > w.size:
		return 0, fmt.Errorf("buffer: write %s: %w: %d bytes past the segment's %d", w.id, ErrLength,
			w.pos()+int64(len(p))-w.size, w.size)
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), cap(w.buf)-len(w.buf))
		w.h.Write(p[:k])
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				// The chunk's bytes are lost with it; Offset says where to resume.
				return n, err
			}
		}
	}
	return n, nil
}

// flush hands the buffered bytes to badger as one chunk, with the
// progress record in the same transaction, and goes on (the next chunk is
// hashed while badger encrypts and writes this one). At most one chunk is
// in flight; its buffer is not touched until badger is done with it.
func (w *writer) flush() error {
	if len(w.buf) == 0 {
		return w.await()
	}
	w.b.mu.Lock()
	closed := w.b.closed
	w.b.mu.Unlock()
	if closed {
		w.err = fmt.Errorf("buffer: write %s: %w", w.id, ErrClosed)
		return w.err
	}
	if free, err := w.b.free(w.b.dir); err == nil && free-int64(len(w.buf)) < w.b.opts.Reserve {
		w.err = fmt.Errorf("buffer: write %s: %w: %d bytes free on disk, %d reserved", w.id, ErrFull, free, w.b.opts.Reserve)
		w.buf = w.buf[:0]
		return w.err
	}
	st, err := w.state()
	if err != nil {
		w.err = err
		return err
	}
	if err := w.await(); err != nil {
		return err
	}
	next := progress{Durable: w.durable + int64(len(w.buf)), Chunks: w.chunks + 1, State: st}
	txn := w.b.db.NewTransaction(true)
	err = txn.Set(chunkKey(w.id, w.durable), w.buf)
	if err == nil {
		err = txn.Set(progressKey(w.id), next.encode())
	}
	if err != nil {
		txn.Discard()
		w.err = fmt.Errorf("buffer: write %s at %d: %w", w.id, w.durable, err)
		w.buf = w.buf[:0]
		return w.err
	}
	done := make(chan error, 1)
	txn.CommitWith(func(err error) { done <- err })
	w.flight = &inflight{done: done, next: next, n: int64(len(w.buf))}
	w.spare, w.buf = w.buf[:0], w.spare[:0]
	return nil
}

// inflight is a chunk badger is writing.
type inflight struct {
	done chan error
	next progress
	n    int64
}

// await waits for the chunk in flight and makes its progress the writer's:
// badger has synced it (and its progress entry) when it answers.
func (w *writer) await() error {
	f := w.flight
	if f == nil {
		return nil
	}
	w.flight = nil
	if err := <-f.done; err != nil {
		w.err = fmt.Errorf("buffer: write %s at %d: %w", w.id, w.durable, err)
		return w.err
	}
	w.durable, w.chunks = f.next.Durable, f.next.Chunks
	w.b.mu.Lock()
	if e := w.b.segs[w.id]; e != nil {
		e.held = w.durable
	}
	w.b.reserved -= f.n
	w.reserved -= f.n
	w.b.mu.Unlock()
	return nil
}

// finish ends the writer, returning its unused reservation.
func (w *writer) finish() {
	w.done = true
	w.b.mu.Lock()
	if e := w.b.segs[w.id]; e != nil {
		e.writing = false
	}
	w.b.reserved -= w.reserved
	w.reserved = 0
	w.b.mu.Unlock()
}

// Abort implements Writer: the bytes received so far are kept (the
// partial chunk is written and synced) for a resumed copy.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	defer w.finish()
	var err error
	if w.err == nil {
		err = w.flush()
	}
	if aerr := w.await(); err == nil {
		err = aerr
	}
	if serr := w.b.sync(); err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("buffer: abort %s: %w", w.id, err)
	}
	return nil
}

// Commit implements Writer. It writes the last chunk, syncs, and only
// then compares the SHA-256 over every byte with the recorder's: equal, the
// segment is buffered (recorded and synced); different, it is faulty and
// the error wraps ErrHashMismatch. Commit always ends the writer.
func (w *writer) Commit() error {
	if w.done {
		return fmt.Errorf("buffer: commit %s: %w", w.id, ErrClosed)
	}
	defer w.finish()
	if w.err != nil {
		w.await()
		return w.err
	}
	if got := w.pos(); got != w.size {
		if err := w.flush(); err == nil {
			w.await()
		}
		return fmt.Errorf("buffer: commit %s: %w: %d of %d bytes", w.id, ErrLength, got, w.size)
	}
	if err := w.flush(); err != nil {
		w.await()
		return err
	}
	if err := w.await(); err != nil {
		return err
	}
	if err := w.b.sync(); err != nil {
		return fmt.Errorf("buffer: commit %s: %w", w.id, err)
	}
	sum := w.h.Sum(nil)
	ok := bytes.Equal(sum, w.want[:])
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	_, err := w.b.change(w.id, true, func(txn *badger.Txn, r *record) error {
		if r.Phase != PhasePartial {
			return fmt.Errorf("%w: %s is %s", ErrState, w.id, phaseName(r.Phase))
		}
		r.Computed, r.HeldBytes = hexSum(sum), w.durable
		r.Manifest.Computed = r.Computed
		if ok {
			r.Phase, r.Buffered = PhaseBuffered, w.b.clock.Now().UTC()
			r.Manifest.State = wire.SegBuffered
		} else {
			r.Phase = PhaseFaulty
			r.Fault = fmt.Sprintf("copied bytes hash to %s, the recorder says %s", r.Computed, r.SHA256)
			r.Manifest.State, r.Manifest.Fault = wire.SegFault, r.Fault
		}
		return txn.Delete(progressKey(w.id))
	})
	if err != nil {
		return fmt.Errorf("buffer: commit %s: %w", w.id, err)
	}
	if !ok {
		w.b.wake() // the faulty copy's chunks are garbage
		return fmt.Errorf("buffer: commit %s: %w", w.id,
			&MismatchError{Serial: w.id.serial, Seq: w.id.seq, Computed: hexSum(sum), Want: hexSum(w.want[:])})
	}
	return nil
}
