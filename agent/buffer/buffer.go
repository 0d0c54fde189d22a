package buffer

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/wire"
)

// Errors. Besides these, Begin and Write return errors wrapping ErrFull,
// and Commit errors wrapping ErrHashMismatch (segment.go).
var (
	ErrOptions  = errors.New("buffer: bad options")
	ErrKeyFile  = errors.New("buffer: key file")
	ErrCorrupt  = errors.New("buffer: corrupt entry")
	ErrClosed   = errors.New("buffer: closed")
	ErrUnknown  = errors.New("buffer: segment not in the buffer")
	ErrBusy     = errors.New("buffer: segment is being copied")
	ErrConflict = errors.New("buffer: segment differs from the one buffered")
	ErrState    = errors.New("buffer: segment not in the right phase")
	ErrLength   = errors.New("buffer: wrong number of bytes")
)

// Buffer is the dock's evidence buffer. Its methods are safe for concurrent
// use; each segment has at most one Writer at a time.
type Buffer struct {
	db      *badger.DB
	dir     string
	opts    Opts
	log     *slog.Logger
	clock   clockwork.Clock
	cap     int64 // Opts.Capacity after the 32-bit cap; 0: free space
	kick    chan struct{}
	free    func(dir string) (int64, error) // freeSpace; tests replace it
	plainGC bool                            // tests: compact without rotating the memtable (badger's GC alone)

	gcMu   sync.Mutex // one reclamation pass at a time; Close waits for it
	closed bool       // under gcMu and mu

	mu       sync.Mutex
	segs     map[segID]*entry
	reserved int64 // bytes promised to running writers
	garbage  int64 // footage deleted since the last compaction (reclaim.go)
	corrupt  int   // records Open could not read
}

// entry is the in-memory summary of a record (the database is the truth).
type entry struct {
	phase     Phase
	size      int64
	held      int64 // footage bytes durable here
	sha       string
	follows   bool
	recorded  time.Time
	uploaded  time.Time
	released  bool
	reclaimed time.Time
	writing   bool
}

func entryOf(r *record) *entry {
	return &entry{phase: r.Phase, size: r.Size, held: r.HeldBytes, sha: r.SHA256, follows: r.Follows,
		recorded: r.Recorded, uploaded: r.Uploaded, released: !r.Released.IsZero(), reclaimed: r.Reclaimed}
}

// Open opens (creating if needed) the buffer's badger database in dir.
// The caller closes it with Close after the last use of the buffer and of
// anything sharing its database (the outbox, see DB).
func Open(dir string, opts *Opts) (*Buffer, error) {
	o := Opts{}
	if opts != nil {
		o = *opts
	}
	o.defaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	var key []byte
	if !o.Plaintext {
		k, err := ReadKeyFile(o.KeyFile)
		if err != nil {
			return nil, err
		}
		key = k
	} else {
		o.Logger.Warn("evidence buffer is NOT encrypted at rest (Plaintext set)", "dir", dir)
	}
	capacity := effectiveCapacity(o.Capacity, is32)
	if capacity != o.Capacity {
		o.Logger.Warn("32-bit build: the value log is memory-mapped, so the buffer is capped",
			"asked", o.Capacity, "cap", capacity)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("buffer: %w", err)
	}
	if err := removeEmptyLogs(dir, o.Logger); err != nil {
		return nil, err
	}
	db, err := badger.Open(o.badgerOptions(dir, key))
	if err != nil {
		return nil, fmt.Errorf("buffer: open %s: %w", dir, err)
	}
	b := &Buffer{db: db, dir: dir, opts: o, log: o.Logger, clock: o.Clock, cap: capacity,
		kick: make(chan struct{}, 1), free: freeSpace, segs: map[segID]*entry{}}
	if err := b.load(); err != nil {
		db.Close()
		return nil, err
	}
	// Whatever was deleted before a restart is still to be compacted away.
	b.garbage = 1
	return b, nil
}

// effectiveCapacity applies the 32-bit cap: there badger memory-maps every
// value-log file, so the footage must fit the address space whatever the
// disk could hold.
func effectiveCapacity(asked int64, bits32 bool) int64 {
	if bits32 && (asked == 0 || asked > Max32BitCapacity) {
		return Max32BitCapacity
	}
	return asked
}

// load reads every segment record into memory. A record that does not
// decode is logged, counted (CorruptRecords) and left alone: its segment
// reads as not buffered, so it is copied again, and the rest of the buffer
// still works.
func (b *Buffer) load() error {
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64,
			Prefix: []byte(Prefix + string(tagRecord) + "/")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var r *record
			err := it.Item().Value(func(v []byte) (err error) {
				r, err = decodeRecord(v)
				return err
			})
			if err == nil && string(it.Item().Key()) != string(recordKey(segID{r.Serial, r.Seq})) {
				err = fmt.Errorf("%w: record %s/%d under another key", ErrCorrupt, r.Serial, r.Seq)
			}
			if err != nil {
				b.corrupt++
				b.log.Error("buffer: record skipped", "key", fmt.Sprintf("%q", it.Item().Key()), "err", err)
				continue
			}
			b.segs[segID{r.Serial, r.Seq}] = entryOf(r)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("buffer: load: %w", err)
	}
	// A partial copy's held bytes are in its progress entry.
	for id, e := range b.segs {
		if e.phase != PhasePartial {
			continue
		}
		p, err := b.loadProgress(id)
		if err != nil {
			b.corrupt++
			b.log.Error("buffer: partial copy without progress; it starts over", "segment", id.String(), "err", err)
			delete(b.segs, id)
			continue
		}
		e.held = p.Durable
	}
	return nil
}

// CorruptRecords counts the records Open could not read (each logged).
func (b *Buffer) CorruptRecords() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.corrupt
}

// DB is the badger database, for the outbox that shares it
// (outbox.New(b.DB(), outbox.DefaultPrefix)). The buffer owns it: do not
// close it; Close does, after the outbox's last use.
func (b *Buffer) DB() *badger.DB { return b.db }

// Dir is the database directory.
func (b *Buffer) Dir() string { return b.dir }

// Close waits for a running reclamation pass, syncs and closes the
// database. Run must have returned (or not be running).
func (b *Buffer) Close() error {
	b.gcMu.Lock()
	defer b.gcMu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	serr := b.db.Sync()
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("buffer: close: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("buffer: close: sync: %w", serr)
	}
	return nil
}

// sync makes the last writes durable.
func (b *Buffer) sync() error {
	if err := b.db.Sync(); err != nil {
		return fmt.Errorf("buffer: sync: %w", err)
	}
	return nil
}

func (b *Buffer) getRecord(txn *badger.Txn, id segID) (*record, error) {
	item, err := txn.Get(recordKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknown, id)
	} else if err != nil {
		return nil, err
	}
	var r *record
	err = item.Value(func(v []byte) (err error) {
		r, err = decodeRecord(v)
		return err
	})
	return r, err
}

func putRecord(txn *badger.Txn, r *record) error {
	v, err := r.encode()
	if err != nil {
		return err
	}
	return txn.Set(recordKey(segID{r.Serial, r.Seq}), v)
}

// change applies f to a segment's record in one transaction, then syncs if
// durable is set, then updates the in-memory entry. Callers hold b.mu.
func (b *Buffer) change(id segID, durable bool, f func(txn *badger.Txn, r *record) error) (*record, error) {
	if b.closed {
		return nil, ErrClosed
	}
	var out *record
	err := b.db.Update(func(txn *badger.Txn) error {
		r, err := b.getRecord(txn, id)
		if err != nil {
			return err
		}
		if err := f(txn, r); err != nil {
			return err
		}
		out = r
		return putRecord(txn, r)
	})
	if err == nil && durable {
		err = b.sync()
	}
	if err != nil {
		return nil, err
	}
	writing := false
	if e := b.segs[id]; e != nil {
		writing = e.writing
	}
	e := entryOf(out)
	e.writing = writing
	b.segs[id] = e
	return out, nil
}

// Lookup implements slot.Buffer.
func (b *Buffer) Lookup(serial string, seq uint64) (Known, error) {
	id := segID{serial, seq}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Known{}, ErrClosed
	}
	e := b.segs[id]
	if e == nil {
		return Known{Phase: PhaseNone}, nil
	}
	k := Known{Phase: e.phase}
	if e.phase >= PhaseUploaded && e.phase != PhaseFaulty {
		err := b.db.View(func(txn *badger.Txn) error {
			r, err := b.getRecord(txn, id)
			if err == nil {
				k.Receipt = r.Receipt
			}
			return err
		})
		if err != nil {
			return Known{}, fmt.Errorf("buffer: lookup %s: %w", id, err)
		}
	}
	return k, nil
}

// MarkUploaded implements uploader.Buffer: it durably records the
// collector's receipt, which must name exactly the buffered segment.
func (b *Buffer) MarkUploaded(serial string, seq uint64, rc wire.Receipt) error {
	id := segID{serial, seq}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, err := b.change(id, true, func(_ *badger.Txn, r *record) error {
		if rc.Device != r.Serial || rc.Seq != r.Seq || rc.SHA256 != r.Computed || rc.Size != r.Size {
			return fmt.Errorf("%w: receipt names %s/%d %s (%d bytes)", wire.ErrReceipt, rc.Device, rc.Seq, rc.SHA256, rc.Size)
		}
		switch r.Phase {
		case PhaseBuffered:
		case PhaseUploaded, PhaseReleased:
			return nil // a redelivered receipt: keep the first
		default:
			return fmt.Errorf("%w: %s is %s, not buffered", ErrState, id, phaseName(r.Phase))
		}
		c := rc
		r.Phase, r.Receipt, r.Uploaded = PhaseUploaded, &c, b.clock.Now().UTC()
		r.Manifest.State, r.Manifest.Receipt = wire.SegUploaded, &c
		return nil
	})
	if err != nil {
		return fmt.Errorf("buffer: mark uploaded %s: %w", id, err)
	}
	b.wake()
	return nil
}

// MarkReleased implements slot.Buffer: the recorder freed the segment. It
// is accepted only once the receipt is held; the footage is deleted by the
// next reclamation pass (Run).
func (b *Buffer) MarkReleased(serial string, seq uint64) error {
	id := segID{serial, seq}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, err := b.change(id, true, func(_ *badger.Txn, r *record) error {
		switch r.Phase {
		case PhaseUploaded:
		case PhaseReleased:
			return nil
		default:
			return fmt.Errorf("%w: %s is %s; a release needs the receipt first", ErrState, id, phaseName(r.Phase))
		}
		r.Phase, r.Released = PhaseReleased, b.clock.Now().UTC()
		r.Manifest.State = wire.SegReleased
		return nil
	})
	if err != nil {
		return fmt.Errorf("buffer: mark released %s: %w", id, err)
	}
	b.wake()
	return nil
}

// wake nudges the reclamation loop.
func (b *Buffer) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// PendingUpload implements uploader.Buffer: buffered segments without a
// receipt, those that follow an interruption first, then the oldest
// recording first.
func (b *Buffer) PendingUpload(limit int) ([]Pending, error) {
	if limit <= 0 {
		return nil, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	type cand struct {
		id segID
		e  *entry
	}
	var list []cand
	for id, e := range b.segs {
		if e.phase == PhaseBuffered {
			list = append(list, cand{id, e})
		}
	}
	slices.SortFunc(list, func(a, c cand) int {
		if a.e.follows != c.e.follows {
			if a.e.follows {
				return -1
			}
			return 1
		}
		return cmp.Or(a.e.recorded.Compare(c.e.recorded), cmp.Compare(a.id.serial, c.id.serial), cmp.Compare(a.id.seq, c.id.seq))
	})
	out := make([]Pending, 0, min(limit, len(list)))
	for _, c := range list[:min(limit, len(list))] {
		out = append(out, Pending{Serial: c.id.serial, Seq: c.id.seq, Size: c.e.size, SHA256: c.e.sha})
	}
	return out, nil
}

// Manifest returns the segment's stored report, brought up to date with
// its phase, the buffer's hash and the receipt (ErrState while the
// segment is still being copied).
func (b *Buffer) Manifest(serial string, seq uint64) (wire.SegmentManifest, error) {
	id := segID{serial, seq}
	var m wire.SegmentManifest
	err := b.db.View(func(txn *badger.Txn) error {
		r, err := b.getRecord(txn, id)
		if err != nil {
			return err
		}
		if r.Phase == PhasePartial {
			return fmt.Errorf("%w: still being copied", ErrState)
		}
		m = r.Manifest
		m.Computed, m.Receipt = r.Computed, r.Receipt
		switch r.Phase {
		case PhaseBuffered:
			m.State = wire.SegBuffered
		case PhaseUploaded:
			m.State = wire.SegUploaded
		case PhaseReleased:
			m.State = wire.SegReleased
		case PhaseFaulty:
			m.State, m.Fault = wire.SegFault, r.Fault
		}
		return nil
	})
	if err != nil {
		return wire.SegmentManifest{}, fmt.Errorf("buffer: manifest %s: %w", id, err)
	}
	return m, nil
}

// Stats are the buffer's figures for reports and dockctl. The fields are
// those of dock.BufferStats, which can be declared as an alias of this
// type (type BufferStats = buffer.Stats) so that *Buffer implements
// dock.Buffer without the buffer importing the dock.
type Stats struct {
	Bytes, Capacity int64 // on disk (the whole database directory, as du counts it); capacity for footage
	BacklogSegments int   // buffered segments without a receipt
	BacklogBytes    int64
	Oldest          time.Time // the oldest backlog recording's start (dock clock)
}

// DiskUsage is the space the files under dir take on disk (allocated
// blocks where the system reports them), as the buffer counts its own
// directory in Stats; files removed while it walks (badger compacting)
// count nothing.
func DiskUsage(dir string) (int64, error) { return dirUsage(dir) }

// Stats returns the buffer's figures.
func (b *Buffer) Stats() Stats {
	used, _ := dirUsage(b.dir)
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Stats{Bytes: used}
	var held int64
	for _, e := range b.segs {
		held += e.held
		if e.phase != PhaseBuffered {
			continue
		}
		s.BacklogSegments++
		s.BacklogBytes += e.size
		if s.Oldest.IsZero() || e.recorded.Before(s.Oldest) {
			s.Oldest = e.recorded
		}
	}
	s.Capacity = b.cap
	if b.cap == 0 {
		if free, err := b.free(b.dir); err == nil {
			s.Capacity = max(0, held+free-b.opts.Reserve)
		}
	}
	return s
}

// Open implements uploader.Buffer: the bytes of a buffered segment. The
// reader holds no transaction between calls (a long upload must not pin
// old versions and stall reclamation); Close it when done.
func (b *Buffer) Open(serial string, seq uint64) (io.ReaderAt, error) {
	id := segID{serial, seq}
	b.mu.Lock()
	e := b.segs[id]
	closed := b.closed
	b.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case e == nil:
		return nil, fmt.Errorf("buffer: open: %w: %s", ErrUnknown, id)
	case e.phase < PhaseBuffered || e.phase == PhaseFaulty || !e.reclaimed.IsZero():
		return nil, fmt.Errorf("buffer: open %s: %w: %s", id, ErrState, phaseName(e.phase))
	}
	return b.newReader(id, e.size)
}

func phaseName(p Phase) string {
	switch p {
	case PhaseNone:
		return "not buffered"
	case PhasePartial:
		return "partial"
	case PhaseBuffered:
		return "buffered"
	case PhaseUploaded:
		return "uploaded"
	case PhaseReleased:
		return "released"
	case PhaseFaulty:
		return "faulty"
	}
	return fmt.Sprintf("phase %d", int(p))
}

// hexSum is the hex of a SHA-256.
func hexSum(b []byte) string { return hex.EncodeToString(b) }
