package evidence_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/evidence/s3test"
)

// The evidence-store suite: every test here runs against each backend,
// the directory and a real S3 server (versitygw, see s3test).

var ctx = context.Background()

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// backend opens a store, and another instance of it over the same
// backing (a second collector, or the first one restarted).
type backend struct {
	name string
	open func(t *testing.T) (evidence.Store, func() evidence.Store)
}

var backends = []backend{
	{"fs", func(t *testing.T) (evidence.Store, func() evidence.Store) {
		dir := t.TempDir()
		open := func() evidence.Store {
			f, err := evidence.OpenFS(dir, quiet())
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		return open(), open
	}},
	{"s3", func(t *testing.T) (evidence.Store, func() evidence.Store) {
		srv := s3test.Start(t)
		// A small part size so multipart commits are exercised.
		o := srv.Opts(evidence.S3Opts{PartSize: 5 << 20})
		open := func() evidence.Store {
			s, err := evidence.OpenS3(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(), open
	}},
}

func eachBackend(t *testing.T, fn func(t *testing.T, st evidence.Store, reopen func() evidence.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st, reopen := b.open(t)
			fn(t, st, reopen)
		})
	}
}

func payload(n int, seed uint64) ([]byte, string) {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 { // 8 bytes a draw: MiBs stay quick under -race
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	b = b[:n:n]
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

func hexSum(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

func appendBytes(st evidence.Store, id string, off int64, p []byte) (int64, error) {
	return st.Append(ctx, id, off, bytes.NewReader(p), int64(len(p)), hexSum(p))
}

const sid = "00112233445566778899aabbccddeeff"

func stage(t *testing.T, st evidence.Store, id string, b []byte, chunk int) {
	t.Helper()
	if _, err := st.Begin(ctx, id, int64(len(b)), hexSum(b), []byte("meta")); err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(b); off += chunk {
		end := min(off+chunk, len(b))
		got, err := appendBytes(st, id, int64(off), b[off:end])
		if err != nil || got != int64(end) {
			t.Fatalf("Append(%d): %d, %v", off, got, err)
		}
	}
}

func readAll(t *testing.T, st evidence.Store, ref string) []byte {
	t.Helper()
	r, err := st.Open(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSuiteCommit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		chunk int
	}{
		{"empty", 0, 1},
		{"one chunk", 70_001, 1 << 20},
		{"uneven chunks", 300_001, 65536},
		{"several commit parts", 11<<20 + 3, 4 << 20}, // > two 5 MiB parts on S3
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, st evidence.Store, _ func() evidence.Store) {
				b, sum := payload(tc.size, uint64(tc.size))
				stage(t, st, sid, b, tc.chunk)
				obj, err := st.Commit(ctx, sid, sum, int64(len(b)))
				if err != nil {
					t.Fatal(err)
				}
				if obj.ID != sum || obj.SHA256 != sum || obj.Size != int64(len(b)) {
					t.Fatalf("object %+v", obj)
				}
				for _, ref := range []string{obj.Ref(), sum} {
					if got := readAll(t, st, ref); !bytes.Equal(got, b) {
						t.Fatalf("object %s reads back %d bytes, not the %d staged", ref, len(got), len(b))
					}
					if o, err := st.Stat(ctx, ref); err != nil || o != obj {
						t.Fatalf("Stat(%s) = %+v, %v; commit said %+v", ref, o, err, obj)
					}
				}
				if _, err := st.Staged(ctx, sid); !errors.Is(err, evidence.ErrNotFound) {
					t.Fatalf("Staged after commit: %v", err)
				}
			})
		})
	}
}

func TestSuiteAppendRules(t *testing.T) {
	eachBackend(t, func(t *testing.T, st evidence.Store, _ func() evidence.Store) {
		b, _ := payload(1000, 2)
		if _, err := st.Begin(ctx, sid, 1000, hexSum(b), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := appendBytes(st, sid, 0, b[:400]); err != nil {
			t.Fatal(err)
		}
		bad := func(p []byte) error {
			_, err := st.Append(ctx, sid, 400, bytes.NewReader(p), 300, hexSum(b[400:700]))
			return err
		}
		for _, tc := range []struct {
			name string
			try  func() error
			want error
		}{
			{"overlap", func() error { _, err := appendBytes(st, sid, 200, b[200:600]); return err }, evidence.ErrOffset},
			{"gap", func() error { _, err := appendBytes(st, sid, 500, b[500:600]); return err }, evidence.ErrOffset},
			{"past size", func() error { _, err := appendBytes(st, sid, 400, make([]byte, 601)); return err }, evidence.ErrTooLarge},
			{"wrong sum", func() error { return bad(b[300:600]) }, evidence.ErrChunkSum},
			{"short", func() error { return bad(b[400:600]) }, evidence.ErrShortChunk},
			{"reader fails", func() error {
				_, err := st.Append(ctx, sid, 400, io.MultiReader(bytes.NewReader(b[400:500]), failReader{}), 300, hexSum(b[400:700]))
				return err
			}, evidence.ErrShortChunk},
			{"malformed sum", func() error {
				_, err := st.Append(ctx, sid, 400, bytes.NewReader(b[400:700]), 300, "../x")
				return err
			}, evidence.ErrChunkSum},
			{"empty with a sum", func() error {
				_, err := st.Append(ctx, sid, 400, bytes.NewReader(nil), 0, hexSum(b[:1]))
				return err
			}, evidence.ErrChunkSum},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.try(); !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				if s, err := st.Staged(ctx, sid); err != nil || s.Offset != 400 || s.Size != 1000 {
					t.Fatalf("after a refused append: %+v, %v", s, err)
				}
			})
		}
	})
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestSuiteCommitRejects(t *testing.T) {
	eachBackend(t, func(t *testing.T, st evidence.Store, _ func() evidence.Store) {
		b, sum := payload(5000, 3)
		if _, err := st.Begin(ctx, sid, 4000, sum, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := appendBytes(st, sid, 0, b[:3000]); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Commit(ctx, sid, sum, 4000); !errors.Is(err, evidence.ErrSizeMismatch) {
			t.Fatalf("short: %v", err)
		}
		if _, err := appendBytes(st, sid, 3000, b[3000:4000]); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Commit(ctx, sid, sum, 5000); !errors.Is(err, evidence.ErrSizeMismatch) {
			t.Fatalf("size: %v", err)
		}
		if _, err := st.Commit(ctx, sid, sum, 4000); !errors.Is(err, evidence.ErrHashMismatch) {
			t.Fatalf("hash: %v", err)
		}
		if _, err := st.Stat(ctx, sum); !errors.Is(err, evidence.ErrNotFound) {
			t.Fatalf("object stored after a mismatch: %v", err)
		}
		if s, err := st.Staged(ctx, sid); err != nil || s.Offset != 4000 {
			t.Fatalf("staging changed by a failed commit: %+v %v", s, err)
		}
		if err := st.Discard(ctx, sid); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Staged(ctx, sid); !errors.Is(err, evidence.ErrNotFound) {
			t.Fatalf("after discard: %v", err)
		}
		if err := st.Discard(ctx, sid); err != nil {
			t.Fatalf("discarding a discarded area: %v", err)
		}
	})
}

func TestSuiteBadIDs(t *testing.T) {
	eachBackend(t, func(t *testing.T, st evidence.Store, _ func() evidence.Store) {
		for _, id := range []string{"", "..", "../../etc/passwd", "00112233445566778899AABBCCDDEEFF", "0011",
			sid + "/..", "00112233445566778899aabbccddeeg0", sid + sid + "00"} {
			if _, err := st.Begin(ctx, id, 1, hexSum(nil), nil); !errors.Is(err, evidence.ErrBadID) {
				t.Errorf("Begin(%q): %v", id, err)
			}
			if _, err := appendBytes(st, id, 0, []byte{1}); !errors.Is(err, evidence.ErrBadID) {
				t.Errorf("Append(%q): %v", id, err)
			}
			if err := st.Discard(ctx, id); !errors.Is(err, evidence.ErrBadID) {
				t.Errorf("Discard(%q): %v", id, err)
			}
		}
		_, sum := payload(1, 1)
		for _, ref := range []string{"", sid, sum + "@", sum + "@a/b", sum + "@../x", "@v1", sum[:63]} {
			if _, err := st.Stat(ctx, ref); !errors.Is(err, evidence.ErrBadID) {
				t.Errorf("Stat(%q): %v", ref, err)
			}
			if _, err := st.Open(ctx, ref); !errors.Is(err, evidence.ErrBadID) {
				t.Errorf("Open(%q): %v", ref, err)
			}
		}
	})
}

// Two uploads of the same footage are one object.
func TestSuiteDedup(t *testing.T) {
	eachBackend(t, func(t *testing.T, st evidence.Store, _ func() evidence.Store) {
		b, sum := payload(70_000, 5)
		stage(t, st, sid, b, 30_000)
		o1, err := st.Commit(ctx, sid, sum, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		stage(t, st, "ff"+sid, b, 7_000)
		o2, err := st.Commit(ctx, "ff"+sid, sum, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if o1 != o2 {
			t.Fatalf("objects differ: %+v %+v", o1, o2)
		}
	})
}

// Of concurrent appends at one offset exactly one counts, also when they
// go through two store instances (two collectors).
func TestSuiteConcurrentAppendsOneWins(t *testing.T) {
	eachBackend(t, func(t *testing.T, st evidence.Store, reopen func() evidence.Store) {
		if _, ok := st.(*evidence.FS); ok {
			reopen = func() evidence.Store { return st } // FS serialises appends within one process only
		}
		b, sum := payload(4096, 9)
		if _, err := st.Begin(ctx, sid, 4096, sum, nil); err != nil {
			t.Fatal(err)
		}
		stores := []evidence.Store{st, reopen()}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 8 {
			wg.Go(func() {
				// Each try appends a different length: a second win would
				// show as a wrong offset or a failed commit.
				n := 1024 + 128*i
				if _, err := appendBytes(stores[i%2], sid, 0, b[:n]); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if !errors.Is(err, evidence.ErrOffset) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d appends at offset 0 succeeded", wins)
		}
		s, err := st.Staged(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := appendBytes(stores[1], sid, s.Offset, b[s.Offset:]); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Commit(ctx, sid, sum, 4096); err != nil {
			t.Fatal(err)
		}
	})
}

// An upload begun on one instance is continued and committed by another
// (a restarted collector; on S3, any other collector).
func TestSuiteResumeElsewhere(t *testing.T) {
	eachBackend(t, func(t *testing.T, st evidence.Store, reopen func() evidence.Store) {
		b, sum := payload(9000, 8)
		if _, err := st.Begin(ctx, sid, 9000, sum, []byte("meta")); err != nil {
			t.Fatal(err)
		}
		if _, err := appendBytes(st, sid, 0, b[:6000]); err != nil {
			t.Fatal(err)
		}
		other := reopen()
		s, err := other.Begin(ctx, sid, 9000, sum, []byte("other meta"))
		if err != nil || s.Offset != 6000 || s.Size != 9000 || string(s.Meta) != "meta" {
			t.Fatalf("resumed %+v, %v", s, err)
		}
		if _, err := appendBytes(other, sid, 6000, b[6000:]); err != nil {
			t.Fatal(err)
		}
		obj, err := other.Commit(ctx, sid, sum, 9000)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, st, obj.Ref()); !bytes.Equal(got, b) {
			t.Fatal("object reads back different bytes")
		}
	})
}

// Dock-sized chunks (4 MiB, under S3's 5 MiB part minimum) appended in
// turn through two instances: on S3 a pending chunk one instance wrote
// goes into a part the other sends (read back from the bucket), and the
// object's SHA-256 is carried from part to part through the bucket. A
// commit under another hash than the one begun is refused.
func TestSuiteAlternateInstances(t *testing.T) {
	eachBackend(t, func(t *testing.T, st evidence.Store, reopen func() evidence.Store) {
		if _, ok := st.(*evidence.FS); ok {
			reopen = func() evidence.Store { return st } // FS keeps an area's state per process
		}
		const chunk = 4 << 20
		b, sum := payload(2*chunk+5, 12) // pending on one; a part of it and the next on the other; the last on the first
		if _, err := st.Begin(ctx, sid, int64(len(b)), sum, nil); err != nil {
			t.Fatal(err)
		}
		stores := []evidence.Store{st, reopen()}
		for i, off := 0, 0; off < len(b); i, off = i+1, off+chunk {
			end := min(off+chunk, len(b))
			if got, err := appendBytes(stores[i%2], sid, int64(off), b[off:end]); err != nil || got != int64(end) {
				t.Fatalf("append %d at %d: %d, %v", i, off, got, err)
			}
			if s, err := stores[(i+1)%2].Staged(ctx, sid); err != nil || s.Offset != int64(end) {
				t.Fatalf("the other instance sees %+v, %v after append %d", s, err, i)
			}
		}
		if _, err := stores[0].Commit(ctx, sid, hexSum([]byte("other")), int64(len(b))); !errors.Is(err, evidence.ErrHashMismatch) {
			t.Fatalf("commit under another hash: %v", err)
		}
		obj, err := stores[0].Commit(ctx, sid, sum, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, stores[1], obj.Ref()); !bytes.Equal(got, b) {
			t.Fatal("object reads back different bytes")
		}
	})
}

// Staging areas are listed for quotas and sweeping.
func TestSuiteStagingAreas(t *testing.T) {
	eachBackend(t, func(t *testing.T, st evidence.Store, _ func() evidence.Store) {
		l, ok := st.(interface {
			StagingAreas(context.Context) ([]evidence.StagingArea, error)
		})
		if !ok {
			t.Fatalf("%T lists no staging areas", st)
		}
		b, _ := payload(100, 1)
		stage(t, st, sid, b, 60)
		if _, err := st.Begin(ctx, "ff"+sid, 7, hexSum(nil), []byte("x")); err != nil {
			t.Fatal(err)
		}
		as, err := l.StagingAreas(ctx)
		if err != nil || len(as) != 2 {
			t.Fatalf("areas %+v, %v", as, err)
		}
		for _, a := range as {
			if a.Touched.IsZero() || (a.ID == sid) != (a.Size == 100) {
				t.Fatalf("area %+v", a)
			}
		}
	})
}
