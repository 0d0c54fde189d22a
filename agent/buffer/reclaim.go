package buffer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/wire"
)

// Run reclaims space until ctx ends: every GCInterval, and soon after a
// release, it deletes the footage of segments whose receipt is durable and
// that the recorder released (or, with RetainUnreleased, that were
// receipted long enough ago), then compacts so badger frees the value-log
// files they filled. Cancellation is not an error. Run returns ErrClosed if
// the buffer is closed; Close waits for a pass in progress, so no pass ever
// touches a closed database.
func (b *Buffer) Run(ctx context.Context) error {
	t := b.clock.NewTicker(b.opts.GCInterval)
	defer t.Stop()
	full := true
	for {
		if _, err := b.reclaim(full); errors.Is(err, ErrClosed) {
			return err
		} else if err != nil {
			b.log.Error("buffer reclamation", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
			full = true
		case <-b.kick:
			full = false
		}
	}
}

// ReclaimStats describe one reclamation pass.
type ReclaimStats struct {
	Segments   int   // segments whose footage was deleted
	Bytes      int64 // footage bytes deleted
	Compacted  bool  // the LSM was flushed and flattened
	FilesFreed int   // value-log files rewritten or deleted
}

// Reclaim runs one full reclamation pass now (Run calls it every
// GCInterval; tests and dockctl may too).
func (b *Buffer) Reclaim() (ReclaimStats, error) { return b.reclaim(true) }

// reclaim deletes what is due, then compacts if anything was deleted since
// the last compaction (full) or at least a value-log file's worth was
// (after a release: compacting costs a memtable of filler and a flatten,
// so it waits for enough garbage to free a file, or for the next tick).
func (b *Buffer) reclaim(full bool) (ReclaimStats, error) {
	b.gcMu.Lock()
	defer b.gcMu.Unlock()
	var st ReclaimStats
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return st, ErrClosed
	}
	now := b.clock.Now()
	var due []segID
	for id, e := range b.segs {
		if !e.reclaimed.IsZero() || e.writing || e.held == 0 && e.phase != PhaseFaulty {
			continue
		}
		switch {
		case e.phase == PhaseReleased, e.phase == PhaseFaulty:
			due = append(due, id)
		case e.phase == PhaseUploaded && b.opts.RetainUnreleased > 0 && now.Sub(e.uploaded) >= b.opts.RetainUnreleased:
			due = append(due, id)
		}
	}
	b.mu.Unlock()
	slices.SortFunc(due, func(a, c segID) int {
		if a.serial != c.serial {
			if a.serial < c.serial {
				return -1
			}
			return 1
		}
		return int(min(max(int64(a.seq)-int64(c.seq), -1), 1))
	})

	for _, id := range due {
		n, err := b.reclaimOne(id, now)
		if err != nil {
			return st, err
		}
		if n >= 0 {
			st.Segments++
			st.Bytes += n
		}
	}

	if err := b.pruneRecords(now); err != nil {
		return st, err
	}

	b.mu.Lock()
	garbage := b.garbage
	b.mu.Unlock()
	if garbage == 0 || !full && garbage < b.opts.ValueLogFileSize {
		return st, nil
	}
	freed, err := b.compact()
	st.Compacted, st.FilesFreed = true, freed
	if err != nil {
		return st, err
	}
	b.mu.Lock()
	b.garbage = 0
	b.mu.Unlock()
	return st, nil
}

// reclaimOne deletes one segment's footage, keeping its record (phase,
// receipt, manifest) with the deletion noted. It returns the bytes
// deleted, or -1 if the segment was no longer due.
func (b *Buffer) reclaimOne(id segID, now time.Time) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.segs[id]
	if e == nil || e.writing || !e.reclaimed.IsZero() {
		return -1, nil
	}
	why := ""
	switch {
	case e.phase == PhaseReleased:
		why = "receipted and released"
	case e.phase == PhaseFaulty:
		why = "faulty copy (the recorder keeps the original)"
	case e.phase == PhaseUploaded:
		// Deleting without the recorder's release: only with a receipt
		// that verifies against the collector's key.
		var verr error
		if err := b.db.View(func(txn *badger.Txn) error {
			r, err := b.getRecord(txn, id)
			if err != nil {
				return err
			}
			keys := append(wire.ReceiptKeys{b.opts.ReceiptKey}, b.opts.PreviousReceiptKeys...)
			verr = keys.Verify(r.Receipt, r.Serial, r.Seq, r.Computed, r.Size)
			return nil
		}); err != nil {
			return 0, fmt.Errorf("buffer: reclaim %s: %w", id, err)
		}
		if verr != nil {
			b.log.Error("receipted segment kept: its receipt does not verify", "segment", id.String(), "err", verr)
			return -1, nil
		}
		why = fmt.Sprintf("receipted %s ago, never released", now.Sub(e.uploaded).Round(time.Minute))
	default:
		return -1, nil
	}
	held := e.held
	if err := b.dropChunks(id); err != nil {
		return 0, fmt.Errorf("buffer: reclaim %s: %w", id, err)
	}
	_, err := b.change(id, true, func(txn *badger.Txn, r *record) error {
		r.Reclaimed, r.HeldBytes, r.ReclaimWhy = now.UTC(), 0, why
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("buffer: reclaim %s: %w", id, err)
	}
	b.log.Debug("footage deleted", "segment", id.String(), "bytes", held, "why", why)
	return held, nil
}

// pruneRecords deletes the records of released segments whose footage was
// deleted more than KeepRecords ago.
func (b *Buffer) pruneRecords(now time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var old []segID
	for id, e := range b.segs {
		if e.phase == PhaseReleased && !e.reclaimed.IsZero() && now.Sub(e.reclaimed) >= b.opts.KeepRecords {
			old = append(old, id)
		}
	}
	if len(old) == 0 {
		return nil
	}
	wb := b.db.NewWriteBatch()
	defer wb.Cancel()
	for _, id := range old {
		if err := wb.Delete(recordKey(id)); err != nil {
			return fmt.Errorf("buffer: prune records: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("buffer: prune records: %w", err)
	}
	for _, id := range old {
		delete(b.segs, id)
	}
	return nil
}

// dropChunks deletes a segment's chunks and progress. Callers hold b.mu.
func (b *Buffer) dropChunks(id segID) error {
	var keys [][]byte
	pfx := chunkPrefix(id)
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return err
	}
	wb := b.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	if err := wb.Delete(progressKey(id)); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	if e := b.segs[id]; e != nil {
		b.garbage += e.held
		e.held = 0
	}
	return nil
}

// compact makes badger give back the space of deleted footage (see the
// package documentation): badger learns which value-log bytes are garbage
// only when a compaction drops the deleted keys' old versions, and a
// memtable holding the deletions is compacted only once it is full, which
// small metadata writes take a very long time to achieve. So compact fills
// the memtable with (compressible, immediately deleted) filler values kept
// in the LSM, which rotates it; waits for the flush to level 0; flattens
// the LSM so every deletion meets the version it deletes (the discard
// statistics are updated then); and runs value-log GC until badger has
// nothing more to rewrite. It returns the number of value-log files freed.
func (b *Buffer) compact() (int, error) {
	before := maxTableID(b.db)
	if !b.plainGC {
		if err := b.rotateMemtable(); err != nil {
			return 0, fmt.Errorf("buffer: compact: %w", err)
		}
	}
	// Badger's flush is real I/O: it is waited for on the wall clock, not
	// on the buffer's (possibly fake) clock, which only stamps records and
	// paces reclamation.
	wall := clockwork.NewRealClock()
	deadline := wall.Now().Add(10 * time.Second)
	for !b.plainGC && maxTableID(b.db) <= before {
		if wall.Now().After(deadline) {
			return 0, errors.New("buffer: compact: memtable not flushed within 10 s")
		}
		wall.Sleep(2 * time.Millisecond)
	}
	if err := b.db.Flatten(1); err != nil {
		return 0, fmt.Errorf("buffer: compact: flatten: %w", err)
	}
	freed := 0
	for range 10000 {
		err := b.syncedValueLogGC()
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			break
		}
		if err != nil {
			return freed, fmt.Errorf("buffer: value-log GC: %w", err)
		}
		freed++
	}
	return freed, nil
}

// syncedValueLogGC runs one value-log GC and makes what it moved durable
// before the file it moved it from is deleted. Badger's GC rewrites a
// file's live entries through the ordinary (here unsynced) write path and
// then deletes the file at once, unless an iterator is open: then the
// delete waits for the last iterator to close. So an iterator is held
// across the GC, the value log and WAL are synced, and only then is it
// closed. Without this a power cut right after a GC lost chunks of
// buffered, unreceipted segments (found by cmd/dockd's power-cut test:
// "chunk at 0 is 0 bytes").
func (b *Buffer) syncedValueLogGC() error {
	txn := b.db.NewTransaction(false)
	it := txn.NewIterator(badger.IteratorOptions{})
	gcErr := b.db.RunValueLogGC(b.opts.DiscardRatio)
	var syncErr error
	if gcErr == nil {
		syncErr = b.db.Sync()
	}
	if syncErr != nil {
		// Keep the old file: leak the pin rather than delete the only
		// durable copy. The buffer reports the error; a restart releases
		// the pin with the old file intact.
		return fmt.Errorf("sync after GC: %w", syncErr)
	}
	it.Close()
	txn.Discard()
	return gcErr
}

const fillerValueSize = valueThreshold / 2

var fillerValue = make([]byte, fillerValueSize)

// rotateMemtable writes MemTableSize of filler through the LSM, then
// deletes it, so the memtable holding earlier deletions fills and is
// flushed.
func (b *Buffer) rotateMemtable() error {
	n := uint32(b.opts.MemTableSize*11/10/fillerValueSize) + 1
	wb := b.db.NewWriteBatch()
	defer wb.Cancel()
	for i := range n {
		if err := wb.Set(fillerKey(i), fillerValue); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	del := b.db.NewWriteBatch()
	defer del.Cancel()
	for i := range n {
		if err := del.Delete(fillerKey(i)); err != nil {
			return err
		}
	}
	return del.Flush()
}

func maxTableID(db *badger.DB) uint64 {
	var m uint64
	for _, t := range db.Tables() {
		m = max(m, t.ID)
	}
	return m
}
