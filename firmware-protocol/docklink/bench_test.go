package docklink

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// BenchmarkAppendCOBS encodes a 256 KiB DATA-sized block of random bytes
// (about one 0x00 per 256 bytes, like compressed video).
func BenchmarkAppendCOBS(b *testing.B) {
	src := randomBytes(256 << 10)
	dst := make([]byte, 0, COBSMaxLen(len(src)))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		dst = AppendCOBS(dst[:0], src)
	}
}

func BenchmarkDecodeCOBS(b *testing.B) {
	enc := AppendCOBS(nil, randomBytes(256<<10))
	dst := make([]byte, 0, len(enc))
	b.SetBytes(int64(len(enc)))
	var err error
	for b.Loop() {
		if dst, err = decodeCOBS(dst[:0], enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFrameRoundTrip writes and reads 256 KiB DATA frames through the
// Framer (COBS, CRC-32C, buffers), without a link.
func BenchmarkFrameRoundTrip(b *testing.B) {
	var wire bytes.Buffer
	w := NewFramer(nil, &wire)
	w.SetLimits(MaxPayload, MaxPayload)
	d := &Data{Seq: 1, Bytes: randomBytes(256 << 10)}
	if err := w.WriteMessage(1, d); err != nil {
		b.Fatal(err)
	}
	frame := bytes.Clone(wire.Bytes())
	r := bytes.NewReader(nil)
	rf := NewFramer(r, io.Discard)
	rf.SetLimits(MaxPayload, MaxPayload)
	b.SetBytes(int64(len(d.Bytes)))
	for b.Loop() {
		wire.Reset()
		if err := w.WriteMessage(1, d); err != nil {
			b.Fatal(err)
		}
		r.Reset(frame)
		if _, err := rf.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
}
