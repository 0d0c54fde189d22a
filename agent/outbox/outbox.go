// Package outbox is the dock's persistent queue of reports for the collector.
//
// Every MQTT report (dock and slot state, device health, segment manifests,
// audit records) is written here, durably, before anything tries to send it.
// An entry leaves the outbox only when the collector's application-level
// acknowledgement names its id (agent/report calls Ack): a broker's PUBACK
// says only that the broker has the message, not that the collector
// committed it. Ids are chosen by the producer and make redelivery
// idempotent: putting an id that is already queued changes nothing, and the
// collector recognises an id it has committed before.
//
// The outbox lives in the dock's badger database beside the evidence buffer,
// under its own key prefix, and every Put and Ack is a synced badger
// transaction (SyncWrites on the database, or an explicit Sync here), so a
// power cut loses no acknowledged-to-nobody report.
package outbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
)

// Message is one report waiting for the collector's acknowledgement.
type Message struct {
	ID       string `json:"id"`
	Topic    string `json:"topic"`
	Payload  []byte `json:"payload"`
	Retained bool   `json:"retained,omitempty"`
	QoS      byte   `json:"qos"`
}

// Limits on what an entry may hold; a bigger one is refused, not truncated.
const (
	MaxIDLen      = 128
	MaxTopicLen   = 512
	MaxPayloadLen = 1 << 20
)

// Errors.
var (
	ErrBadMessage = errors.New("outbox: bad message")
	ErrCorrupt    = errors.New("outbox: corrupt entry")
)

// Key layout, under the box's prefix p:
//
//	p "q" seq(8, big endian)  -> JSON Message   (send order)
//	p "i" id                   -> seq(8)         (ack by id, idempotent put)
//	p "x" seq(8)               -> raw bytes      (quarantined: undecodable)
const (
	tagQueue      = 'q'
	tagIndex      = 'i'
	tagQuarantine = 'x'
)

// Box is a persistent outbox in a badger database. It is safe for
// concurrent use.
type Box struct {
	db     *badger.DB
	prefix []byte

	mu          sync.Mutex // orders seq allocation with its write
	next        uint64
	n           int
	quarantined int
}

// DefaultPrefix is the key prefix of the dock's outbox in the shared database.
const DefaultPrefix = "outbox/"

// New opens the outbox stored under prefix in db (DefaultPrefix if empty),
// counting what is queued. The caller owns db and closes it after the
// outbox's last use.
func New(db *badger.DB, prefix string) (*Box, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	b := &Box{db: db, prefix: []byte(prefix)}
	err := db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = b.key(tagQueue, nil)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != len(opts.Prefix)+8 {
				return fmt.Errorf("%w: queue key %q", ErrCorrupt, k)
			}
			seq := binary.BigEndian.Uint64(k[len(opts.Prefix):])
			if seq >= b.next {
				b.next = seq + 1
			}
			b.n++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: open: %w", err)
	}
	return b, nil
}

func (b *Box) key(tag byte, rest []byte) []byte {
	k := make([]byte, 0, len(b.prefix)+1+len(rest))
	k = append(k, b.prefix...)
	k = append(k, tag)
	return append(k, rest...)
}

func (b *Box) queueKey(seq uint64) []byte {
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	return b.key(tagQueue, s[:])
}

// Put queues m durably. A message whose id is already queued is left as it
// is (the first copy keeps its place), so a producer that crashed between
// Put and recording that it did may simply put again.
func (b *Box) Put(m Message) error {
	if m.ID == "" || len(m.ID) > MaxIDLen || m.Topic == "" || len(m.Topic) > MaxTopicLen || len(m.Payload) > MaxPayloadLen || m.QoS > 2 {
		return fmt.Errorf("%w: id %q, topic %d bytes, payload %d bytes, qos %d", ErrBadMessage, m.ID, len(m.Topic), len(m.Payload), m.QoS)
	}
	v, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("outbox: put: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	seq := b.next
	added := false
	err = b.db.Update(func(txn *badger.Txn) error {
		ik := b.key(tagIndex, []byte(m.ID))
		if _, err := txn.Get(ik); err == nil {
			return nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		var s [8]byte
		binary.BigEndian.PutUint64(s[:], seq)
		if err := txn.Set(ik, s[:]); err != nil {
			return err
		}
		added = true
		return txn.Set(b.queueKey(seq), v)
	})
	if err == nil {
		err = b.sync()
	}
	if err != nil {
		return fmt.Errorf("outbox: put %s: %w", m.ID, err)
	}
	if added {
		b.next++
		b.n++
	}
	return nil
}

// sync makes the last transactions durable when the database does not sync
// every write itself.
func (b *Box) sync() error {
	if b.db.Opts().SyncWrites || b.db.Opts().InMemory {
		return nil
	}
	return b.db.Sync()
}

// Pending returns up to limit queued messages, oldest first. An entry that
// no longer decodes (a damaged disk) is moved aside to a quarantine prefix,
// counted (Quarantined) and skipped, so one bad entry cannot stop every
// report behind it; its bytes are kept for a custodian to inspect.
func (b *Box) Pending(limit int) ([]Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []Message
	var bad [][]byte
	err := b.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = b.key(tagQueue, nil)
		opts.PrefetchSize = min(limit, 100)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < limit; it.Next() {
			var m Message
			err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &m) })
			if err != nil || m.ID == "" {
				bad = append(bad, it.Item().KeyCopy(nil))
				continue
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: pending: %w", err)
	}
	for _, k := range bad {
		if err := b.quarantine(k); err != nil {
			return out, err
		}
	}
	return out, nil
}

// quarantine moves an undecodable queue entry aside.
func (b *Box) quarantine(queueKey []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	moved := false
	err := b.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(queueKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if err := txn.Set(b.key(tagQuarantine, queueKey[len(b.prefix)+1:]), v); err != nil {
			return err
		}
		moved = true
		return txn.Delete(queueKey)
	})
	if err == nil {
		err = b.sync()
	}
	if err != nil {
		return fmt.Errorf("%w: quarantine %q: %w", ErrCorrupt, queueKey, err)
	}
	if moved {
		b.n--
		b.quarantined++
	}
	return nil
}

// Quarantined is how many undecodable entries this Box moved aside.
func (b *Box) Quarantined() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.quarantined
}

// Ack deletes the named messages; ids not queued (acknowledged before, or
// never put here) are ignored, since acks may be redelivered.
func (b *Box) Ack(ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	removed := 0
	err := b.db.Update(func(txn *badger.Txn) error {
		for _, id := range ids {
			if id == "" || len(id) > MaxIDLen {
				continue
			}
			ik := b.key(tagIndex, []byte(id))
			item, err := txn.Get(ik)
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			} else if err != nil {
				return err
			}
			var seq uint64
			if err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("%w: index of %q", ErrCorrupt, id)
				}
				seq = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				return err
			}
			if err := txn.Delete(b.queueKey(seq)); err != nil {
				return err
			}
			if err := txn.Delete(ik); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	if err == nil {
		err = b.sync()
	}
	if err != nil {
		return fmt.Errorf("outbox: ack: %w", err)
	}
	b.n -= removed
	return nil
}

// Len is the number of queued messages.
func (b *Box) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}
