package buffer

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// footage is a deterministic pseudo-random segment.
func footage(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

var t0 = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

func meta(serial string, seq uint64, data []byte, start time.Time, follows bool) Meta {
	seg := docklink.Segment{Seq: seq, Start: start, End: start.Add(time.Minute), Size: uint64(len(data)),
		SHA256: sha256.Sum256(data), StopCause: docklink.StopCause(0)}
	return Meta{Serial: serial, Seg: seg, FollowsInterruption: follows,
		Manifest: wire.SegmentManifest{Serial: serial, Seq: seq, Start: start, End: seg.End, Size: int64(len(data)),
			SHA256: hex.EncodeToString(seg.SHA256[:]), State: wire.SegBuffered}}
}

type fixture struct {
	dir   string
	opts  Opts
	clock *clockwork.FakeClock
	pub   ed25519.PublicKey
	priv  ed25519.PrivateKey
}

// newFixture makes a key file and small-board options sized for tests.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	kf := filepath.Join(dir, "buffer.key")
	if err := WriteKeyFile(kf); err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	f := &fixture{dir: filepath.Join(dir, "db"), clock: clockwork.NewFakeClockAt(t0), pub: pub, priv: priv}
	f.opts = Opts{KeyFile: kf, Reserve: 1 << 20, MemTableSize: 1 << 20, ValueLogFileSize: 4 << 20,
		Clock: f.clock, ReceiptKey: pub}
	return f
}

func (f *fixture) open(t testing.TB) *Buffer {
	t.Helper()
	b, err := Open(f.dir, &f.opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) receipt(serial string, seq uint64, data []byte) wire.Receipt {
	sum := sha256.Sum256(data)
	r := wire.Receipt{ObjectID: "obj-" + hex.EncodeToString(sum[:8]), Device: serial, Seq: seq,
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), StoredAt: t0}
	r.Sign("k1", f.priv)
	return r
}

// put writes data as segment seq in writes of varied sizes and commits it.
func put(t testing.TB, b *Buffer, m Meta, data []byte) {
	t.Helper()
	w, err := b.Begin(m)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data[w.Offset():])
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func writeAll(t testing.TB, w io.Writer, data []byte) {
	t.Helper()
	sizes := []int{1, 4095, 65536, 300000, 1 << 20, 7}
	for i := 0; len(data) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(data))
		if k, err := w.Write(data[:n]); err != nil || k != n {
			t.Fatalf("write %d: %d, %v", n, k, err)
		}
		data = data[n:]
	}
}

func readBack(t testing.TB, b *Buffer, serial string, seq uint64) []byte {
	t.Helper()
	ra, err := b.Open(serial, seq)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.(io.Closer).Close()
	size := ra.(interface{ Size() int64 }).Size()
	out := make([]byte, size)
	// Odd-sized reads that straddle chunk boundaries.
	for off := 0; off < len(out); {
		n := min(777777, len(out)-off)
		k, err := ra.ReadAt(out[off:off+n], int64(off))
		if k != n || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", n, off, k, err)
		}
		off += n
	}
	if k, err := ra.ReadAt(make([]byte, 1), size); k != 0 || err != io.EOF {
		t.Fatalf("ReadAt past the end = %d, %v; want 0, EOF", k, err)
	}
	return out
}
