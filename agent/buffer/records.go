package buffer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// Key layout, all under Prefix ("buffer/"), beside the outbox's "outbox/":
//
//	"buffer/s/" id          -> JSON record       (one per segment)
//	"buffer/p/" id          -> progress (binary) (while copying)
//	"buffer/c/" id off(8)   -> footage chunk     (value log)
//	"buffer/f/" n(4)        -> filler            (see reclaim.go)
//	"buffer/e/" serial      -> event-log cursor  (see events.go)
//	"buffer/h/" len serial from(8) to(8) -> hole-release decision (see holes.go)
//	"buffer/v/" serial      -> volume index      (see volume.go)
//	"buffer/o/" slot(2)     -> checkout offer    (see offers.go)
//
// where id is len(serial) (1 byte), serial, seq (8 bytes big endian), so
// one segment's chunks sort together in offset order and no serial is a
// prefix of another's keys. A chunk is keyed by the offset of its first
// byte: chunks are ChunkSize long except the last one of a segment and one
// flushed by Abort, so a resumed copy never rewrites or duplicates bytes.
const Prefix = "buffer/"

const (
	tagRecord   = 's'
	tagProgress = 'p'
	tagChunk    = 'c'
	tagFiller   = 'f'
	tagEvents   = 'e'
	tagHoles    = 'h'
	tagVolume   = 'v'
	tagOffer    = 'o'
)

type segID struct {
	serial string
	seq    uint64
}

func (id segID) String() string { return fmt.Sprintf("%s/%d", id.serial, id.seq) }

func key(tag byte, id segID, extra int) []byte {
	k := make([]byte, 0, len(Prefix)+2+1+len(id.serial)+8+extra)
	k = append(k, Prefix...)
	k = append(k, tag, '/', byte(len(id.serial)))
	k = append(k, id.serial...)
	return binary.BigEndian.AppendUint64(k, id.seq)
}

func recordKey(id segID) []byte   { return key(tagRecord, id, 0) }
func progressKey(id segID) []byte { return key(tagProgress, id, 0) }
func chunkPrefix(id segID) []byte { return key(tagChunk, id, 8) }
func chunkKey(id segID, off int64) []byte {
	return binary.BigEndian.AppendUint64(chunkPrefix(id), uint64(off))
}

func fillerKey(n uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(Prefix), tagFiller, '/'), n)
}

// parseChunkOffset returns the offset in a chunk key under prefix p.
func parseChunkOffset(p, k []byte) (int64, error) {
	if len(k) != len(p)+8 {
		return 0, fmt.Errorf("%w: chunk key %q", ErrCorrupt, k)
	}
	off := binary.BigEndian.Uint64(k[len(p):])
	if off > 1<<62 {
		return 0, fmt.Errorf("%w: chunk offset %d", ErrCorrupt, off)
	}
	return int64(off), nil
}

// record is what the buffer keeps of a segment, beside its chunks.
type record struct {
	V        int    `json:"v"`
	Serial   string `json:"serial"`
	Seq      uint64 `json:"seq"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`             // the recorder's, hex
	Computed string `json:"computed,omitempty"` // the buffer's, hex, at commit

	Phase   Phase `json:"phase"`
	Follows bool  `json:"follows_interruption,omitempty"`
	// Recorded is the recording's start on the dock's clock (the device
	// clock corrected by the offset measured at docking): "oldest first".
	Recorded time.Time            `json:"recorded"`
	Manifest wire.SegmentManifest `json:"manifest"`
	Fault    string               `json:"fault,omitempty"`
	Receipt  *wire.Receipt        `json:"receipt,omitempty"`

	Began      time.Time `json:"began"`
	Buffered   time.Time `json:"buffered,omitzero"`
	Uploaded   time.Time `json:"uploaded,omitzero"`
	Released   time.Time `json:"released,omitzero"`
	Reclaimed  time.Time `json:"reclaimed,omitzero"` // chunks deleted
	HeldBytes  int64     `json:"held_bytes"`         // footage bytes durable here (0 once reclaimed)
	ReclaimWhy string    `json:"reclaim_why,omitempty"`
}

const recordVersion = 1

func (r *record) encode() ([]byte, error) {
	r.V = recordVersion
	return json.Marshal(r)
}

// decodeRecord parses a stored record and checks what the buffer relies on.
func decodeRecord(b []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: record: %v", ErrCorrupt, err)
	}
	switch {
	case r.V != recordVersion:
		return nil, fmt.Errorf("%w: record version %d", ErrCorrupt, r.V)
	case wire.ValidID(r.Serial) != nil:
		return nil, fmt.Errorf("%w: record serial %q", ErrCorrupt, r.Serial)
	case r.Size < 0 || r.HeldBytes < 0 || r.HeldBytes > r.Size:
		return nil, fmt.Errorf("%w: record %s/%d sizes %d/%d", ErrCorrupt, r.Serial, r.Seq, r.HeldBytes, r.Size)
	case r.Phase < PhasePartial || r.Phase > PhaseFaulty:
		return nil, fmt.Errorf("%w: record %s/%d phase %d", ErrCorrupt, r.Serial, r.Seq, r.Phase)
	case len(r.SHA256) != 64:
		return nil, fmt.Errorf("%w: record %s/%d hash %q", ErrCorrupt, r.Serial, r.Seq, r.SHA256)
	case r.Phase >= PhaseUploaded && r.Phase != PhaseFaulty && r.Receipt == nil:
		return nil, fmt.Errorf("%w: record %s/%d uploaded without a receipt", ErrCorrupt, r.Serial, r.Seq)
	}
	return &r, nil
}

// progress is a copy's durable state, written with every chunk in the same
// transaction: how many bytes are durable, in how many chunks, and the
// SHA-256 state over exactly those bytes (crypto/sha256's marshalled
// digest), so a copy resumed after an abort or a crash goes on hashing
// without reading back what it already holds.
type progress struct {
	Durable int64
	Chunks  uint32
	State   []byte
}

const (
	progressVersion  = 1
	maxHashStateSize = 256 // sha256's is 108 bytes
)

func (p progress) encode() []byte {
	b := make([]byte, 0, 1+8+4+2+len(p.State))
	b = append(b, progressVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(p.Durable))
	b = binary.BigEndian.AppendUint32(b, p.Chunks)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.State)))
	return append(b, p.State...)
}

func decodeProgress(b []byte) (progress, error) {
	const head = 1 + 8 + 4 + 2
	if len(b) < head || b[0] != progressVersion {
		return progress{}, fmt.Errorf("%w: progress of %d bytes", ErrCorrupt, len(b))
	}
	p := progress{Durable: int64(binary.BigEndian.Uint64(b[1:])), Chunks: binary.BigEndian.Uint32(b[9:])}
	n := int(binary.BigEndian.Uint16(b[13:]))
	if n > maxHashStateSize || len(b) != head+n || p.Durable < 0 || p.Durable > 1<<62 {
		return progress{}, fmt.Errorf("%w: progress state %d bytes in %d, durable %d", ErrCorrupt, n, len(b), p.Durable)
	}
	p.State = append([]byte(nil), b[head:]...)
	return p, nil
}
