package buffer

import (
	"encoding/json"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// The dock's small records kept beside the footage (an event-log cursor,
// a legacy volume's file numbering, a hole-release decision, a pending
// checkout offer) are JSON values under their own keys, read, written and
// deleted here.

// readKept decodes the record at key into v; found is false (and v left
// alone) if there is none. what names the record in errors.
func (b *Buffer) readKept(key []byte, what string, v any) (found bool, err error) {
	err = b.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		found = true
		return item.Value(func(raw []byte) error {
			if err := json.Unmarshal(raw, v); err != nil {
				return fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			return nil
		})
	})
	if err != nil {
		return false, fmt.Errorf("buffer: %s: %w", what, err)
	}
	return found, nil
}

// keep durably writes v as the record at key (on disk when it returns).
func (b *Buffer) keep(key []byte, what string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("buffer: %s: %w", what, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if err := b.db.Update(func(txn *badger.Txn) error { return txn.Set(key, raw) }); err != nil {
		return fmt.Errorf("buffer: %s: %w", what, err)
	}
	return b.sync()
}

// forget durably deletes the record at key (on disk when it returns); a
// record that is not there is forgotten already.
func (b *Buffer) forget(key []byte, what string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if err := b.db.Update(func(txn *badger.Txn) error { return txn.Delete(key) }); err != nil {
		return fmt.Errorf("buffer: %s: %w", what, err)
	}
	return b.sync()
}
