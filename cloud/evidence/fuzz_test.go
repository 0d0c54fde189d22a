package evidence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzLoad feeds arbitrary staging files (a crash or a disk can leave
// anything) to the staging loader: it never panics, and either refuses
// with an error or recovers an offset within the declared size with the
// data file cut to exactly that offset.
func loadSeeds() [][3][]byte {
	rec := func(end uint64) []byte { return append(binary.BigEndian.AppendUint64(nil, end), make([]byte, 32)...) }
	meta := func(size uint64, m string) []byte { return append(binary.BigEndian.AppendUint64(nil, size), m...) }
	return [][3][]byte{
		{meta(100, "m"), append(rec(10), rec(40)...), make([]byte, 40)},
		{meta(100, ""), append(rec(10), 1, 2, 3), make([]byte, 50)},
		{meta(100, ""), append(rec(40), rec(10)...), make([]byte, 40)},
		{meta(10, ""), rec(40), make([]byte, 40)},
		{meta(1<<63, ""), {}, {}},
		{{1, 2}, {}, {}},
		{meta(100, ""), rec(40), make([]byte, 5)},
	}
}

func FuzzLoad(f *testing.F) {
	for _, s := range loadSeeds() {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, metaB, chunks, data []byte) {
		dir := t.TempDir()
		fs, err := OpenFS(dir, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		area := filepath.Join(dir, stagingDir, sid)
		os.Mkdir(area, 0o700)
		for name, b := range map[string][]byte{metaFile: metaB, chunksFile: chunks, dataFile: data} {
			if err := os.WriteFile(filepath.Join(area, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		st, err := fs.Staged(ctx, sid)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if st.Offset < 0 || st.Offset > st.Size {
			t.Fatalf("offset %d of size %d", st.Offset, st.Size)
		}
		fi, err := os.Stat(filepath.Join(area, dataFile))
		if err != nil || fi.Size() != st.Offset {
			t.Fatalf("data file %d bytes, offset %d", fi.Size(), st.Offset)
		}
		if cl, _ := os.Stat(filepath.Join(area, chunksFile)); cl.Size()%chunkRec != 0 {
			t.Fatalf("chunk log left with a torn record: %d bytes", cl.Size())
		}
	})
}

// TestWriteLoadSeeds writes the seed corpus into testdata/fuzz when
// BERTH_WRITE_SEEDS is set (the files are committed).
func TestWriteLoadSeeds(t *testing.T) {
	if os.Getenv("BERTH_WRITE_SEEDS") == "" {
		t.Skip("set BERTH_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzLoad")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzLoad")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range loadSeeds() {
		b := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n[]byte(%s)\n[]byte(%s)\n",
			strconv.Quote(string(s[0])), strconv.Quote(string(s[1])), strconv.Quote(string(s[2])))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
