package buffer

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/berthdock/berth/cloud/wire"
)

// VolumeIndex is how the dock numbers a legacy mass-storage recorder's
// files (agent/massstore): such a recorder keeps no sequence numbers, so
// the dock assigns them, in file order, once per file, and keeps them here
// beside the footage. Next is the next number to assign (numbers are never
// reused); Files are the files numbered so far that the recorder may still
// hold.
type VolumeIndex struct {
	Next  uint64       `json:"next"`
	Files []VolumeFile `json:"files"`
}

// VolumeFile is one numbered file: its path on the volume, size and
// modification time (together, its identity), and the SHA-256 the dock
// computed when it first read it.
type VolumeFile struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	Seq     uint64    `json:"seq"`
	SHA256  string    `json:"sha256"`
}

// volumeKey is "buffer/v/" serial: one per recorder.
func volumeKey(serial string) []byte {
	return append([]byte(Prefix+string(tagVolume)+"/"), serial...)
}

// VolumeIndex returns serial's file numbering; the zero index (Next 0) if
// it never docked here.
func (b *Buffer) VolumeIndex(serial string) (VolumeIndex, error) {
	if err := wire.ValidID(serial); err != nil {
		return VolumeIndex{}, fmt.Errorf("buffer: volume index: %w", err)
	}
	var ix VolumeIndex
	err := b.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(volumeKey(serial))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if err := json.Unmarshal(v, &ix); err != nil {
				return fmt.Errorf("%w: volume index of %s: %v", ErrCorrupt, serial, err)
			}
			return nil
		})
	})
	if err != nil {
		return VolumeIndex{}, fmt.Errorf("buffer: volume index: %w", err)
	}
	return ix, nil
}

// SetVolumeIndex durably records serial's file numbering (it returns once
// synced): a number is reported only after it is kept, so a crash never
// gives one file two numbers or one number two files.
func (b *Buffer) SetVolumeIndex(serial string, ix VolumeIndex) error {
	if err := wire.ValidID(serial); err != nil {
		return fmt.Errorf("buffer: volume index: %w", err)
	}
	v, err := json.Marshal(ix)
	if err != nil {
		return fmt.Errorf("buffer: volume index: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if err := b.db.Update(func(txn *badger.Txn) error { return txn.Set(volumeKey(serial), v) }); err != nil {
		return fmt.Errorf("buffer: volume index: %w", err)
	}
	return b.sync()
}
