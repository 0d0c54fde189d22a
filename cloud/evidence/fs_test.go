package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var ctx = context.Background()

// anySum is a declared hash for Begin: the directory backend checks only
// its form.
const anySum = emptySHA256

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func openFS(t testing.TB) (*FS, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := OpenFS(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return f, dir
}

func payload(n int, seed uint64) ([]byte, string) {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

// appendBytes appends p with its correct chunk hash.
func appendBytes(f *FS, id string, off int64, p []byte) (int64, error) {
	s := sha256.Sum256(p)
	return f.Append(ctx, id, off, bytes.NewReader(p), int64(len(p)), hex.EncodeToString(s[:]))
}

const sid = "00112233445566778899aabbccddeeff"

func stageAll(t *testing.T, f *FS, id string, b []byte, chunk int) {
	t.Helper()
	stageSized(t, f, id, int64(len(b)), b, chunk)
}

func stageSized(t *testing.T, f *FS, id string, size int64, b []byte, chunk int) {
	t.Helper()
	if _, err := f.Begin(ctx, id, size, anySum, []byte("meta")); err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(b); off += chunk {
		end := min(off+chunk, len(b))
		got, err := appendBytes(f, id, int64(off), b[off:end])
		if err != nil || got != int64(end) {
			t.Fatalf("Append(%d): %d, %v", off, got, err)
		}
	}
}

func TestCommitHappy(t *testing.T) {
	f, dir := openFS(t)
	b, sum := payload(300_001, 1)
	stageAll(t, f, sid, b, 65536)
	obj, err := f.Commit(ctx, sid, sum, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if obj.ID != sum || obj.Size != int64(len(b)) {
		t.Fatalf("object %+v", obj)
	}
	r, err := f.Open(ctx, sum)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, b) {
		t.Fatal("object bytes differ")
	}
	fi, err := os.Stat(filepath.Join(dir, "objects", sum[:2], sum))
	if err != nil || fi.Mode().Perm() != 0o444 {
		t.Fatalf("object mode %v, %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "staging", sid)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("staging left after commit: %v", err)
	}
	if _, err := f.Staged(ctx, sid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Staged after commit: %v", err)
	}
	if _, err := f.Verify(ctx, sum); err != nil {
		t.Fatal(err)
	}
}

func TestAppendRules(t *testing.T) {
	f, _ := openFS(t)
	b, _ := payload(1000, 2)
	if _, err := f.Begin(ctx, sid, 1000, anySum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := appendBytes(f, sid, 0, b[:400]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		off  int64
		p    []byte
		want error
	}{
		{"overlap", 200, b[200:600], ErrOffset},
		{"gap", 500, b[500:600], ErrOffset},
		{"past size", 400, make([]byte, 601), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			end, err := appendBytes(f, sid, tc.off, tc.p)
			if !errors.Is(err, tc.want) || end != 400 {
				t.Fatalf("got %d, %v; want 400, %v", end, err, tc.want)
			}
		})
	}
	st, err := f.Staged(ctx, sid)
	if err != nil || st.Offset != 400 || st.Size != 1000 {
		t.Fatalf("staged %+v, %v", st, err)
	}
}

func TestCommitRejects(t *testing.T) {
	f, _ := openFS(t)
	b, sum := payload(5000, 3)
	stageAll(t, f, sid, b[:4000], 1000)
	// Begin declared 4000; committing as 5000 is a size mismatch.
	if _, err := f.Commit(ctx, sid, sum, 5000); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("size: %v", err)
	}
	_, sum4 := payload(4000, 4) // other content's hash
	if _, err := f.Commit(ctx, sid, sum4, 4000); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("hash: %v", err)
	}
	if _, err := f.Stat(ctx, sum4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("object stored after mismatch: %v", err)
	}
	st, err := f.Staged(ctx, sid)
	if err != nil || st.Offset != 4000 {
		t.Fatalf("staging changed by a failed commit: %+v %v", st, err)
	}
	if err := f.Discard(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Staged(ctx, sid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after discard: %v", err)
	}
	// Short staging.
	stageAll(t, f, sid, nil, 1)
	if _, err := f.Begin(ctx, "ff"+sid, 10, anySum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Commit(ctx, "ff"+sid, sum, 10); !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("short: %v", err)
	}
}

func TestBadIDs(t *testing.T) {
	f, dir := openFS(t)
	for _, id := range []string{"", "..", "../../etc/passwd", "00112233445566778899AABBCCDDEEFF", "0011",
		"00112233445566778899aabbccddeeff/..", "00112233445566778899aabbccddeeg0", sid + sid + "00"} {
		if _, err := f.Begin(ctx, id, 1, anySum, nil); !errors.Is(err, ErrBadID) {
			t.Errorf("Begin(%q): %v", id, err)
		}
		if _, err := appendBytes(f, id, 0, []byte{1}); !errors.Is(err, ErrBadID) {
			t.Errorf("Append(%q): %v", id, err)
		}
		if _, err := f.Stat(ctx, id); !errors.Is(err, ErrBadID) {
			t.Errorf("Stat(%q): %v", id, err)
		}
		if _, err := f.Open(ctx, id); !errors.Is(err, ErrBadID) {
			t.Errorf("Open(%q): %v", id, err)
		}
		if err := f.Discard(ctx, id); !errors.Is(err, ErrBadID) {
			t.Errorf("Discard(%q): %v", id, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "staging"))
	if len(ents) != 0 {
		t.Fatalf("staging has %d entries", len(ents))
	}
}

func TestDedup(t *testing.T) {
	f, dir := openFS(t)
	b, sum := payload(70_000, 5)
	stageAll(t, f, sid, b, 30_000)
	o1, err := f.Commit(ctx, sid, sum, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	other := "ff" + sid
	stageAll(t, f, other, b, 7_000)
	o2, err := f.Commit(ctx, other, sum, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if o1 != o2 {
		t.Fatalf("objects differ: %+v %+v", o1, o2)
	}
	var files int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files != 1 {
		t.Fatalf("%d files stored, want one object", files)
	}
}

func TestExistingCorruptObjectKeepsStaging(t *testing.T) {
	f, dir := openFS(t)
	b, sum := payload(10_000, 6)
	stageAll(t, f, sid, b, 10_000)
	if _, err := f.Commit(ctx, sid, sum, int64(len(b))); err != nil {
		t.Fatal(err)
	}
	// Bit rot (or tampering) in the stored object.
	p := filepath.Join(dir, "objects", sum[:2], sum)
	os.Chmod(p, 0o644)
	bad := bytes.Clone(b)
	bad[77] ^= 1
	if err := os.WriteFile(p, bad, 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Verify(ctx, sum); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Verify: %v", err)
	}
	stageAll(t, f, "ff"+sid, b, 10_000)
	if _, err := f.Commit(ctx, "ff"+sid, sum, int64(len(b))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("commit over corrupt object: %v", err)
	}
	if st, err := f.Staged(ctx, "ff"+sid); err != nil || st.Offset != int64(len(b)) {
		t.Fatalf("staging not kept: %+v %v", st, err)
	}
}

func TestRecoverTornTail(t *testing.T) {
	f, dir := openFS(t)
	b, sum := payload(9000, 8)
	stageSized(t, f, sid, 9000, b[:6000], 3000)
	// A crash mid-append: bytes in the data file past the log, and half a
	// log record.
	d, _ := os.OpenFile(filepath.Join(dir, "staging", sid, "data"), os.O_WRONLY|os.O_APPEND, 0)
	d.Write([]byte("garbage that was never acknowledged"))
	d.Close()
	l, _ := os.OpenFile(filepath.Join(dir, "staging", sid, "chunks"), os.O_WRONLY|os.O_APPEND, 0)
	l.Write(make([]byte, 17))
	l.Close()

	f2, err := OpenFS(dir, testLogger(t)) // the restarted collector
	if err != nil {
		t.Fatal(err)
	}
	st, err := f2.Begin(ctx, sid, 9000, anySum, []byte("other meta"))
	if err != nil || st.Offset != 6000 || string(st.Meta) != "meta" {
		t.Fatalf("recovered %+v, %v", st, err)
	}
	if _, err := appendBytes(f2, sid, 6000, b[6000:]); err != nil {
		t.Fatal(err)
	}
	if _, err := f2.Commit(ctx, sid, sum, 9000); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentAppendsOneWins(t *testing.T) {
	f, _ := openFS(t)
	b, sum := payload(4096, 9)
	if _, err := f.Begin(ctx, sid, 4096, anySum, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			if _, err := appendBytes(f, sid, 0, b[:2048]); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, ErrOffset) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d appends at offset 0 succeeded", wins)
	}
	if _, err := appendBytes(f, sid, 2048, b[2048:]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Commit(ctx, sid, sum, 4096); err != nil {
		t.Fatal(err)
	}
}

func TestAppendChunkChecks(t *testing.T) {
	f, dir := openFS(t)
	b, sum := payload(10_000, 10)
	if _, err := f.Begin(ctx, sid, 10_000, anySum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := appendBytes(f, sid, 0, b[:3000]); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b[3000:6000])
	chunkSum := hex.EncodeToString(s[:])
	data := filepath.Join(dir, "staging", sid, "data")
	for _, tc := range []struct {
		name string
		r    io.Reader
		n    int64
		sum  string
		want error
	}{
		{"wrong sum", bytes.NewReader(b[3000:6000]), 3000, sum, ErrChunkSum},
		{"bad sum", bytes.NewReader(b[3000:6000]), 3000, "../x", ErrChunkSum},
		{"short", bytes.NewReader(b[3000:5000]), 3000, chunkSum, ErrShortChunk},
		{"reader fails", io.MultiReader(bytes.NewReader(b[3000:4000]), iotestErr{}), 3000, chunkSum, ErrShortChunk},
		{"negative", bytes.NewReader(nil), -1, chunkSum, ErrTooLarge},
		{"empty with a sum", bytes.NewReader(nil), 0, chunkSum, ErrChunkSum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			end, err := f.Append(ctx, sid, 3000, tc.r, tc.n, tc.sum)
			if !errors.Is(err, tc.want) || end != 3000 {
				t.Fatalf("got %d, %v; want 3000, %v", end, err, tc.want)
			}
			if fi, err := os.Stat(data); err != nil || fi.Size() != 3000 {
				t.Fatalf("data file holds %d bytes after a failed append", fi.Size())
			}
		})
	}
	if _, err := f.Append(ctx, sid, 3000, bytes.NewReader(b[3000:6000]), 3000, chunkSum); err != nil {
		t.Fatal(err)
	}
	if _, err := appendBytes(f, sid, 6000, b[6000:]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Commit(ctx, sid, sum, 10_000); err != nil {
		t.Fatal(err)
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestCommitHashesBeyondOneRead commits and verifies an object longer than
// the 1 MiB read of the commit's re-hash, and finds a flipped byte past the
// first read: a re-hash that stopped after its first read would refuse the
// good object (and check only the first MiB of a stored one).
func TestCommitHashesBeyondOneRead(t *testing.T) {
	f, dir := openFS(t)
	b, sum := payload(5<<19+3, 11) // 2.5 MiB and 3 bytes
	stageAll(t, f, sid, b, 1<<20)
	if _, err := f.Commit(ctx, sid, sum, int64(len(b))); err != nil {
		t.Fatalf("commit of %d bytes: %v", len(b), err)
	}
	if _, err := f.Verify(ctx, sum); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "objects", sum[:2], sum)
	bad := bytes.Clone(b)
	bad[len(b)-2] ^= 1
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, bad, 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Verify(ctx, sum); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Verify of an object changed past its first MiB: %v", err)
	}
}
