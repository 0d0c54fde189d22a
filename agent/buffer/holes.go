package buffer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/berthdock/berth/cloud/wire"
)

// HoleRelease is a supervisor's decision (wire.CmdReleaseHole) that a
// recorder's receipted segments may be released around its missing
// sequence numbers From..To. The dock keeps every one it received, so a
// restart does not make a recorder with a hole keep its footage again.
type HoleRelease struct {
	Serial string    `json:"serial"`
	From   uint64    `json:"from"`
	To     uint64    `json:"to"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// holeKey is "buffer/h/" len(serial) serial from(8) to(8): one per decided
// range, so the same decision received twice is stored once.
func holeKey(serial string, from, to uint64) []byte {
	k := append([]byte(Prefix+string(tagHoles)+"/"), byte(len(serial)))
	k = append(k, serial...)
	k = binary.BigEndian.AppendUint64(k, from)
	return binary.BigEndian.AppendUint64(k, to)
}

// KeepHoleRelease durably records a decision (synced before it returns).
func (b *Buffer) KeepHoleRelease(h HoleRelease) error {
	if err := wire.ValidID(h.Serial); err != nil {
		return fmt.Errorf("buffer: hole release: %w", err)
	}
	if h.From == 0 || h.To < h.From {
		return fmt.Errorf("buffer: hole release of %s: range %d..%d", h.Serial, h.From, h.To)
	}
	return b.keep(holeKey(h.Serial, h.From, h.To), "hole release of "+h.Serial, h)
}

// HoleReleases returns every decision kept, in key order (by recorder,
// then range). A record that does not decode is skipped and counted in
// the second result (the dock logs it; a missing decision only keeps
// footage on the recorder longer).
func (b *Buffer) HoleReleases() ([]HoleRelease, int, error) {
	var out []HoleRelease
	bad := 0
	prefix := []byte(Prefix + string(tagHoles) + "/")
	err := b.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var h HoleRelease
			err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &h) })
			if err != nil || wire.ValidID(h.Serial) != nil || !bytes.Equal(it.Item().Key(), holeKey(h.Serial, h.From, h.To)) {
				bad++
				continue
			}
			out = append(out, h)
		}
		return nil
	})
	if err != nil {
		return nil, bad, fmt.Errorf("buffer: hole releases: %w", err)
	}
	return out, bad, nil
}
