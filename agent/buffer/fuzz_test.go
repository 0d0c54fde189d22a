package buffer

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// FuzzDecodeProgress: no panic on any stored bytes, and what decodes
// re-encodes to the same bytes.
func FuzzDecodeProgress(f *testing.F) {
	h := sha256.New()
	h.Write([]byte("seed"))
	st, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	f.Add(progress{Durable: 3 << 20, Chunks: 3, State: st}.encode())
	f.Add(progress{}.encode())
	f.Add([]byte{1})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(append(progress{Durable: 1}.encode()[:13], 0xff, 0xff))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeProgress(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.encode(), b) {
			t.Fatalf("re-encoding %x gives %x", b, p.encode())
		}
		// A state that decodes may still be refused by sha256: never a panic.
		h := sha256.New()
		_ = h.(encoding.BinaryUnmarshaler).UnmarshalBinary(p.State)
	})
}

// FuzzDecodeRecord: no panic, and an accepted record round-trips.
func FuzzDecodeRecord(f *testing.F) {
	r := &record{Serial: "BWC-1", Seq: 4, Size: 10, SHA256: string(bytes.Repeat([]byte("a"), 64)), Phase: PhaseUploaded,
		Recorded: time.Unix(1, 0).UTC(), Receipt: &wire.Receipt{ObjectID: "o", Device: "BWC-1", Seq: 4}, HeldBytes: 10}
	good, _ := r.encode()
	f.Add(good)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"serial":"x","phase":3,"sha256":"` + string(bytes.Repeat([]byte("0"), 64)) + `"}`))
	f.Add([]byte(`{"v":1,"serial":"x","size":-1}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeRecord(again)
		if err != nil {
			t.Fatalf("re-encoded record refused: %v", err)
		}
		if r2.Serial != r.Serial || r2.Seq != r.Seq || r2.Phase != r.Phase || r2.Size != r.Size || r2.HeldBytes != r.HeldBytes {
			t.Fatalf("round trip changed %+v to %+v", r, r2)
		}
	})
}

// FuzzChunkKey: chunk keys parse back to their offset; other bytes are
// refused without a panic.
func FuzzChunkKey(f *testing.F) {
	f.Add("BWC-1", uint64(3), int64(1<<20), []byte("buffer/c/\x05BWC-1"))
	f.Add("", uint64(0), int64(0), []byte{})
	f.Fuzz(func(t *testing.T, serial string, seq uint64, off int64, junk []byte) {
		if len(serial) > 255 {
			return
		}
		id := segID{serial, seq}
		if off >= 0 && off <= 1<<62 {
			got, err := parseChunkOffset(chunkPrefix(id), chunkKey(id, off))
			if err != nil || got != off {
				t.Fatalf("offset %d parsed as %d, %v", off, got, err)
			}
		}
		_, _ = parseChunkOffset(chunkPrefix(id), junk)
	})
}
