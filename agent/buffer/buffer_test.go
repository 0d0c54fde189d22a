package buffer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/berthdock/berth/cloud/wire"
)

func TestWriteCommitRead(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	defer b.Close()
	data := footage(1, 3<<20+12345)
	m := meta("BWC-001", 7, data, t0, false)
	if k, err := b.Lookup("BWC-001", 7); err != nil || k.Phase != PhaseNone {
		t.Fatalf("Lookup before = %+v, %v", k, err)
	}
	put(t, b, m, data)
	k, err := b.Lookup("BWC-001", 7)
	if err != nil || k.Phase != PhaseBuffered || k.Receipt != nil {
		t.Fatalf("Lookup = %+v, %v; want buffered", k, err)
	}
	if got := readBack(t, b, "BWC-001", 7); !bytes.Equal(got, data) {
		t.Fatal("read back differs from what was written")
	}
	p, err := b.PendingUpload(10)
	sum := sha256.Sum256(data)
	if err != nil || len(p) != 1 || p[0].Seq != 7 || p[0].Size != int64(len(data)) || p[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("PendingUpload = %+v, %v", p, err)
	}
	man, err := b.Manifest("BWC-001", 7)
	if err != nil || man.State != wire.SegBuffered || man.Computed != p[0].SHA256 || man.Size != int64(len(data)) {
		t.Fatalf("Manifest = %+v, %v", man, err)
	}
	st := b.Stats()
	if st.BacklogSegments != 1 || st.BacklogBytes != int64(len(data)) || !st.Oldest.Equal(t0) || st.Bytes < int64(len(data)) || st.Capacity <= 0 {
		t.Fatalf("Stats = %+v", st)
	}
	// A second copy of a buffered segment is refused, not duplicated.
	if _, err := b.Begin(m); !errors.Is(err, ErrState) {
		t.Fatalf("Begin on a buffered segment: %v, want ErrState", err)
	}
	// Too many bytes are refused.
	m2 := meta("BWC-001", 8, data[:10], t0, false)
	w, err := b.Begin(m2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:11]); !errors.Is(err, ErrLength) {
		t.Fatalf("overlong write: %v, want ErrLength", err)
	}
	if _, err := w.Write(data[:4]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, ErrLength) {
		t.Fatalf("short commit: %v, want ErrLength", err)
	}
	if k, _ := b.Lookup("BWC-001", 8); k.Phase != PhasePartial {
		t.Fatalf("after a short commit the segment is %v, want partial", k.Phase)
	}
	if _, err := b.Manifest("BWC-001", 8); !errors.Is(err, ErrState) {
		t.Fatalf("Manifest of a partial segment: %v, want ErrState", err)
	}
}

func TestHashMismatchIsFaulty(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	defer b.Close()
	data := footage(2, 2<<20+5)
	m := meta("BWC-002", 1, data, t0, false)
	bad := bytes.Clone(data)
	bad[1<<20+3] ^= 0x40 // one bit flipped on the link
	w, err := b.Begin(m)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, bad)
	err = w.Commit()
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Commit = %v, want ErrHashMismatch", err)
	}
	if k, _ := b.Lookup("BWC-002", 1); k.Phase != PhaseFaulty {
		t.Fatalf("phase %v, want faulty", k.Phase)
	}
	if p, _ := b.PendingUpload(10); len(p) != 0 {
		t.Fatalf("a faulty segment is pending upload: %+v", p)
	}
	if _, err := b.Open("BWC-002", 1); !errors.Is(err, ErrState) {
		t.Fatalf("Open faulty: %v", err)
	}
	if err := b.MarkUploaded("BWC-002", 1, f.receipt("BWC-002", 1, data)); err == nil {
		t.Fatal("a faulty segment took a receipt")
	}
	if err := b.MarkReleased("BWC-002", 1); !errors.Is(err, ErrState) {
		t.Fatalf("MarkReleased faulty: %v, want ErrState", err)
	}
	man, _ := b.Manifest("BWC-002", 1)
	if man.State != wire.SegFault || man.Fault == "" {
		t.Fatalf("manifest %+v", man)
	}
	// A new attempt starts over and can succeed.
	put(t, b, m, data)
	if k, _ := b.Lookup("BWC-002", 1); k.Phase != PhaseBuffered {
		t.Fatalf("retry phase %v", k.Phase)
	}
	if !bytes.Equal(readBack(t, b, "BWC-002", 1), data) {
		t.Fatal("retry read back differs")
	}
}

func TestResumeAfterAbort(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	defer b.Close()
	data := footage(3, 4<<20+999)
	m := meta("BWC-003", 2, data, t0, false)
	cuts := []int{1<<20 + 17, 1<<20 + 17, 3<<20 + 1, 3<<20 + 500000}
	for _, cut := range cuts {
		w, err := b.Begin(m)
		if err != nil {
			t.Fatal(err)
		}
		off := int(w.Offset())
		if off > cut {
			t.Fatalf("resumed at %d, past the %d bytes sent", off, cut)
		}
		writeAll(t, w, data[off:cut])
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if k, _ := b.Lookup("BWC-003", 2); k.Phase != PhasePartial {
			t.Fatalf("phase %v after abort", k.Phase)
		}
	}
	w, err := b.Begin(m)
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != int64(cuts[len(cuts)-1]) {
		t.Fatalf("Offset = %d, want every byte sent (%d) kept", w.Offset(), cuts[len(cuts)-1])
	}
	writeAll(t, w, data[w.Offset():])
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBack(t, b, "BWC-003", 2), data) {
		t.Fatal("resumed copy differs")
	}
}

// TestResumeAfterCrash kills a process mid-segment (no Abort, no Close) and
// resumes in a new one.
func TestResumeAfterCrash(t *testing.T) {
	if os.Getenv("BUFFER_CRASH_DIR") != "" {
		crashChild()
		return
	}
	f := newFixture(t)
	data := footage(4, 5<<20+4321)
	cmd := exec.Command(os.Args[0], "-test.run=^TestResumeAfterCrash$")
	cmd.Env = append(os.Environ(), "BUFFER_CRASH_DIR="+f.dir, "BUFFER_CRASH_KEY="+f.opts.KeyFile)
	out, err := cmd.CombinedOutput()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child: %v\n%s", err, out)
	}
	b := f.open(t)
	defer b.Close()
	if k, _ := b.Lookup("BWC-004", 9); k.Phase != PhasePartial {
		t.Fatalf("after the crash: %v, want partial", k.Phase)
	}
	w, err := b.Begin(meta("BWC-004", 9, data, t0, false))
	if err != nil {
		t.Fatal(err)
	}
	// The child wrote 3 MiB + 1000 bytes: two whole chunks are durable, the
	// third was in flight (it may or may not have made it), the partial
	// fourth died with the process.
	if off := w.Offset(); off != 2<<20 && off != 3<<20 {
		t.Fatalf("resume at %d, want 2 or 3 MiB", off)
	}
	writeAll(t, w, data[w.Offset():])
	if err := w.Commit(); err != nil {
		t.Fatalf("commit after crash: %v", err)
	}
	got := readBack(t, b, "BWC-004", 9)
	if !bytes.Equal(got, data) {
		t.Fatal("resumed copy differs")
	}
}

func crashChild() {
	dir, kf := os.Getenv("BUFFER_CRASH_DIR"), os.Getenv("BUFFER_CRASH_KEY")
	b, err := Open(dir, &Opts{KeyFile: kf, Reserve: 1 << 20, MemTableSize: 1 << 20, ValueLogFileSize: 4 << 20})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	data := footage(4, 5<<20+4321)
	w, err := b.Begin(meta("BWC-004", 9, data, t0, false))
	if err == nil {
		_, err = w.Write(data[:3<<20+1000])
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	os.Exit(3) // crash: nothing closed, nothing synced
}

func TestPriorityOrder(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	defer b.Close()
	type seg struct {
		serial  string
		seq     uint64
		start   time.Time
		follows bool
	}
	segs := []seg{
		{"A", 1, t0.Add(3 * time.Hour), false},
		{"A", 2, t0.Add(4 * time.Hour), true},
		{"B", 5, t0.Add(1 * time.Hour), false},
		{"B", 6, t0.Add(5 * time.Hour), true},
		{"C", 1, t0.Add(2 * time.Hour), false},
	}
	for i, s := range segs {
		d := footage(uint64(10+i), 1000+i)
		put(t, b, meta(s.serial, s.seq, d, s.start, s.follows), d)
	}
	p, err := b.PendingUpload(10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range p {
		got = append(got, fmt.Sprintf("%s/%d", x.Serial, x.Seq))
	}
	want := "A/2 B/6 B/5 C/1 A/1" // followers first (oldest first among them), then oldest first
	if strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
	if p, _ := b.PendingUpload(2); len(p) != 2 || p[0].Seq != 2 {
		t.Fatalf("limit 2: %+v", p)
	}
	// A receipted segment leaves the queue.
	d := footage(11, 1001)
	if err := b.MarkUploaded("A", 2, f.receipt("A", 2, d)); err != nil {
		t.Fatal(err)
	}
	if p, _ := b.PendingUpload(1); len(p) != 1 || p[0].Serial != "B" || p[0].Seq != 6 {
		t.Fatalf("after a receipt: %+v", p)
	}
}

func TestReceiptSurvivesReopen(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	data := footage(5, 1<<20+1)
	put(t, b, meta("BWC-005", 3, data, t0, false), data)
	if err := b.MarkReleased("BWC-005", 3); !errors.Is(err, ErrState) {
		t.Fatalf("release before the receipt: %v, want ErrState", err)
	}
	rc := f.receipt("BWC-005", 3, data)
	wrong := rc
	wrong.SHA256 = strings.Repeat("0", 64)
	if err := b.MarkUploaded("BWC-005", 3, wrong); !errors.Is(err, wire.ErrReceipt) {
		t.Fatalf("receipt for another hash: %v", err)
	}
	if err := b.MarkUploaded("BWC-005", 3, rc); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = f.open(t)
	k, err := b.Lookup("BWC-005", 3)
	if err != nil || k.Phase != PhaseUploaded || k.Receipt == nil || *k.Receipt != rc {
		t.Fatalf("after reopen: %+v, %v", k, err)
	}
	if err := k.Receipt.Verify(f.pub, "BWC-005", 3, rc.SHA256, rc.Size); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkReleased("BWC-005", 3); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b = f.open(t)
	defer b.Close()
	if k, _ := b.Lookup("BWC-005", 3); k.Phase != PhaseReleased || k.Receipt == nil {
		t.Fatalf("release after reopen: %+v", k)
	}
	if man, _ := b.Manifest("BWC-005", 3); man.State != wire.SegReleased || man.Receipt == nil || man.Receipt.ObjectID != rc.ObjectID {
		t.Fatalf("manifest %+v", man)
	}
}

func TestBufferFull(t *testing.T) {
	f := newFixture(t)
	f.opts.Capacity = 3 << 20
	b := f.open(t)
	defer b.Close()
	d1, d2 := footage(6, 2<<20), footage(7, 2<<20)
	w1, err := b.Begin(meta("F", 1, d1, t0, false))
	if err != nil {
		t.Fatal(err)
	}
	// The running copy's remaining bytes are promised: a second one would overfill.
	if _, err := b.Begin(meta("F", 2, d2, t0, false)); !errors.Is(err, ErrFull) {
		t.Fatalf("second Begin: %v, want ErrBufferFull", err)
	}
	writeAll(t, w1, d1)
	if err := w1.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Begin(meta("F", 2, d2, t0, false)); !errors.Is(err, ErrFull) {
		t.Fatalf("Begin past capacity: %v, want ErrBufferFull", err)
	}
	// Once receipted, released and reclaimed, there is room again.
	if err := b.MarkUploaded("F", 1, f.receipt("F", 1, d1)); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkReleased("F", 1); err != nil {
		t.Fatal(err)
	}
	if st, err := b.Reclaim(); err != nil || st.Segments != 1 || st.Bytes != 2<<20 {
		t.Fatalf("Reclaim = %+v, %v", st, err)
	}
	put(t, b, meta("F", 2, d2, t0, false), d2)

	// The disk filling up under a running copy stops it with ErrBufferFull,
	// keeping what is durable.
	free := int64(1 << 40)
	b.free = func(string) (int64, error) { return free, nil }
	d3 := footage(8, 1<<20+10)
	w3, err := b.Begin(meta("G", 1, d3, t0, false))
	if !errors.Is(err, ErrFull) {
		// capacity: 2 MiB held + 1 MiB+10 > 3 MiB
		t.Fatalf("Begin over capacity: %v", err)
	}
	b.cap = 0 // capacity from free space only
	b.opts.Reserve = 1 << 30
	w3, err = b.Begin(meta("G", 1, d3, t0, false))
	if err != nil {
		t.Fatal(err)
	}
	free = 1<<30 + 100 // someone else filled the disk
	if _, err := w3.Write(d3); !errors.Is(err, ErrFull) {
		t.Fatalf("Write on a full disk: %v, want ErrBufferFull", err)
	}
	if err := w3.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Begin(meta("G", 1, d3, t0, false)); !errors.Is(err, ErrFull) {
		t.Fatalf("Begin on a full disk: %v, want ErrBufferFull", err)
	}
	if st := b.Stats(); st.Capacity != 2<<20+free-b.opts.Reserve {
		t.Fatalf("Stats capacity %d, want held + free - reserve", st.Capacity)
	}
}

func TestKeyFileChecks(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte{7}, n), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"group readable", write("g.key", 32, 0o640), "mode 0640"},
		{"world readable", write("w.key", 32, 0o604), "mode 0604"},
		{"short", write("s.key", 16, 0o600), "16 bytes"},
		{"long", write("l.key", 33, 0o400), "33 bytes"},
		{"missing", filepath.Join(dir, "none.key"), "no such file"},
		{"directory", dir, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(filepath.Join(dir, "db-"+tc.name), &Opts{KeyFile: tc.path})
			if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want ErrKeyFile mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Open(filepath.Join(dir, "db"), &Opts{}); !errors.Is(err, ErrOptions) {
		t.Fatalf("no key file: %v, want ErrOptions", err)
	}
	good := filepath.Join(dir, "good.key")
	if err := WriteKeyFile(good); err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(good); err == nil {
		t.Fatal("WriteKeyFile overwrote a key")
	}
	b, err := Open(filepath.Join(dir, "db"), &Opts{KeyFile: good})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	// Another key cannot open it.
	other := filepath.Join(dir, "other.key")
	WriteKeyFile(other)
	if b, err := Open(filepath.Join(dir, "db"), &Opts{KeyFile: other}); err == nil {
		b.Close()
		t.Fatal("opened with the wrong key")
	}
}

// TestEncryptedAtRest looks for the footage's bytes in every file the
// buffer wrote; the plaintext control proves the search finds them.
func TestEncryptedAtRest(t *testing.T) {
	marker := []byte("BERTH-PLAINTEXT-FOOTAGE-MARKER-")
	data := bytes.Repeat(append(marker, footage(9, 33)...), (1<<20+500)/64)
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plaintext=%v", plain), func(t *testing.T) {
			f := newFixture(t)
			if plain {
				f.opts.KeyFile, f.opts.Plaintext = "", true
			}
			b := f.open(t)
			put(t, b, meta("ENC", 1, data, t0, false), data)
			w, _ := b.Begin(meta("ENC", 2, data, t0, false))
			writeAll(t, w, data[:700000])
			w.Abort()
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			found := 0
			filepath.WalkDir(f.dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				raw, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				found += bytes.Count(raw, marker)
				return nil
			})
			if plain && found == 0 {
				t.Fatal("control: plaintext footage not found on disk; the search is broken")
			}
			if !plain && found != 0 {
				t.Fatalf("found the footage in plaintext %d times on disk", found)
			}
		})
	}
}

func TestRunStopsAndNeverTouchesAClosedDB(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	data := footage(12, 1<<20+3)
	put(t, b, meta("R", 1, data, t0, false), data)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	if err := b.MarkUploaded("R", 1, f.receipt("R", 1, data)); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkReleased("R", 1); err != nil { // wakes Run
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.held("R", 1) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not reclaim a released segment")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.clock.Advance(time.Hour) // ticks
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil on cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close = %v, want ErrClosed", err)
	}
	if _, err := b.Reclaim(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reclaim after Close = %v", err)
	}
	if _, err := b.Lookup("R", 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Lookup after Close = %v", err)
	}
	// Released and reclaimed: the record stays, so the slot never copies it again.
	b = f.open(t)
	defer b.Close()
	if k, _ := b.Lookup("R", 1); k.Phase != PhaseReleased || k.Receipt == nil {
		t.Fatalf("reclaimed segment after reopen: %+v", k)
	}
	if _, err := b.Open("R", 1); !errors.Is(err, ErrState) {
		t.Fatalf("Open reclaimed: %v", err)
	}
}

func (b *Buffer) held(serial string, seq uint64) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.segs[segID{serial, seq}].held
}

func TestRetainUnreleased(t *testing.T) {
	f := newFixture(t)
	f.opts.RetainUnreleased = 24 * time.Hour
	b := f.open(t)
	defer b.Close()
	d1, d2 := footage(13, 1<<20), footage(14, 1<<20)
	put(t, b, meta("U", 1, d1, t0, false), d1)
	put(t, b, meta("U", 2, d2, t0, false), d2)
	if err := b.MarkUploaded("U", 1, f.receipt("U", 1, d1)); err != nil {
		t.Fatal(err)
	}
	forged := f.receipt("U", 2, d2)
	forged.ObjectID = "elsewhere" // the signature no longer covers it
	if err := b.MarkUploaded("U", 2, forged); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.Reclaim(); st.Segments != 0 {
		t.Fatalf("reclaimed before the retention: %+v", st)
	}
	f.clock.Advance(25 * time.Hour)
	st, err := b.Reclaim()
	if err != nil || st.Segments != 1 || b.held("U", 1) != 0 || b.held("U", 2) != 1<<20 {
		t.Fatalf("Reclaim = %+v, %v; held %d, %d", st, err, b.held("U", 1), b.held("U", 2))
	}
	if _, err := io.ReadAll(io.NewSectionReader(must(b.Open("U", 2)), 0, 1<<20)); err != nil {
		t.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestReopenKeepsPartialsAndSkipsCorruptRecords(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	data := footage(20, 2<<20+77)
	w, err := b.Begin(meta("P", 1, data, t0, false))
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data[:1<<20+5])
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	good := footage(21, 1000)
	put(t, b, meta("P", 2, good, t0, false), good)
	// A record that no longer decodes (a bad sector, a bug).
	if err := b.DB().Update(func(txn *badger.Txn) error {
		return txn.Set(recordKey(segID{"P", 3}), []byte(`{"v":1,"serial":"P","seq":3,"phase":42}`))
	}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b = f.open(t)
	defer b.Close()
	if b.CorruptRecords() != 1 {
		t.Fatalf("CorruptRecords = %d, want 1", b.CorruptRecords())
	}
	if k, _ := b.Lookup("P", 3); k.Phase != PhaseNone {
		t.Fatalf("corrupt record reads as %v, want not buffered (copied again)", k.Phase)
	}
	if got := b.held("P", 1); got != 1<<20+5 {
		t.Fatalf("partial copy holds %d after reopen, want %d", got, 1<<20+5)
	}
	if !bytes.Equal(readBack(t, b, "P", 2), good) {
		t.Fatal("buffered segment differs after reopen")
	}
}

func TestReleasedRecordsArePrunedAfterKeepRecords(t *testing.T) {
	f := newFixture(t)
	f.opts.KeepRecords = 48 * time.Hour
	b := f.open(t)
	defer b.Close()
	d := footage(22, 5000)
	put(t, b, meta("K", 1, d, t0, false), d)
	if err := b.MarkUploaded("K", 1, f.receipt("K", 1, d)); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkReleased("K", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reclaim(); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(47 * time.Hour)
	b.Reclaim()
	if k, _ := b.Lookup("K", 1); k.Phase != PhaseReleased {
		t.Fatalf("record pruned early: %v", k.Phase)
	}
	f.clock.Advance(2 * time.Hour)
	b.Reclaim()
	if k, _ := b.Lookup("K", 1); k.Phase != PhaseNone {
		t.Fatalf("record kept past KeepRecords: %v", k.Phase)
	}
	if _, err := b.Manifest("K", 1); !errors.Is(err, ErrUnknown) {
		t.Fatalf("Manifest of a pruned record: %v", err)
	}
}

func TestCapacityCappedOn32Bit(t *testing.T) {
	for _, tc := range []struct {
		asked  int64
		bits32 bool
		want   int64
	}{
		{0, false, 0},
		{64 << 30, false, 64 << 30},
		{0, true, Max32BitCapacity},
		{64 << 30, true, Max32BitCapacity},
		{512 << 20, true, 512 << 20},
	} {
		if got := effectiveCapacity(tc.asked, tc.bits32); got != tc.want {
			t.Errorf("effectiveCapacity(%d, %v) = %d, want %d", tc.asked, tc.bits32, got, tc.want)
		}
	}
	// This build's own figure.
	f := newFixture(t)
	b := f.open(t)
	defer b.Close()
	if want := effectiveCapacity(0, is32); b.cap != want {
		t.Fatalf("capacity %d on this build, want %d", b.cap, want)
	}
}

// TestRetainUnreleasedEdges pins the two edges of deleting receipted
// footage the recorder never released: with RetainUnreleased 0 (the
// default) it is kept however long it waits, and with a retention it goes
// exactly when the retention has passed, not a moment before.
func TestRetainUnreleasedEdges(t *testing.T) {
	t.Run("zero keeps", func(t *testing.T) {
		f := newFixture(t)
		f.opts.RetainUnreleased = 0
		b := f.open(t)
		defer b.Close()
		d := footage(15, 1<<20)
		put(t, b, meta("Z", 1, d, t0, false), d)
		if err := b.MarkUploaded("Z", 1, f.receipt("Z", 1, d)); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(10 * 365 * 24 * time.Hour)
		if st, err := b.Reclaim(); err != nil || st.Segments != 0 || b.held("Z", 1) != 1<<20 {
			t.Fatalf("Reclaim = %+v, %v; held %d: unreleased footage deleted with RetainUnreleased 0", st, err, b.held("Z", 1))
		}
	})
	t.Run("at the retention", func(t *testing.T) {
		f := newFixture(t)
		f.opts.RetainUnreleased = 24 * time.Hour
		b := f.open(t)
		defer b.Close()
		d := footage(16, 1<<20)
		put(t, b, meta("E", 1, d, t0, false), d)
		if err := b.MarkUploaded("E", 1, f.receipt("E", 1, d)); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(24*time.Hour - time.Nanosecond)
		if st, err := b.Reclaim(); err != nil || st.Segments != 0 {
			t.Fatalf("Reclaim 1 ns before the retention = %+v, %v", st, err)
		}
		f.clock.Advance(time.Nanosecond)
		if st, err := b.Reclaim(); err != nil || st.Segments != 1 || b.held("E", 1) != 0 {
			t.Fatalf("Reclaim at the retention = %+v, %v; held %d", st, err, b.held("E", 1))
		}
	})
}
