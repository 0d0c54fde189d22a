package buffer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer/powercut"
)

// TestCommittedSurvivesCut: a segment whose Commit returned is durable,
// whatever badger did with its files meanwhile, and so is one resumed
// after the cut. Segments of several value-log files each are written (so
// the value log rotates inside every one), with a memtable flush forced
// half-way through each (as the reclamation pass's filler does), the last
// one left half-written; the writer dies without closing, a power cut
// drops every byte not fsynced, the half-written segment is resumed from
// its durable progress and committed, and every segment must read back
// byte-exact.
//
// With badger's SyncWrites off, a memtable flush makes the chunks'
// pointers and the progress entry durable (in a synced table) while the
// value-log bytes they point to are still unsynced, and its Sync fsyncs
// only the active memtable's log, not a rotated one awaiting its flush.
// Both broke "buffered means durable": this test failed (a value-log
// checksum mismatch reading the resumed segment) before the buffer synced
// every write.
//
// The buffer runs in a child process (this test binary again): badger
// maps its files, and a page fault on a FUSE file in the process serving
// it can deadlock with the Go runtime's stop-the-world.
func TestCommittedSurvivesCut(t *testing.T) {
	if mode := os.Getenv("BUFFER_CUT_CHILD"); mode != "" {
		if err := cutChild(mode, os.Getenv("BUFFER_CUT_DIR")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	backing, mnt := t.TempDir(), t.TempDir()
	p, err := powercut.Mount(backing, mnt)
	if errors.Is(err, powercut.ErrNoFUSE) && os.Getenv("BERTH_REQUIRE_FUSE") == "" {
		t.Skipf("%v (BERTH_REQUIRE_FUSE=1 demands it)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Unmount(); err != nil {
			t.Error(err)
		}
	})
	kf := filepath.Join(t.TempDir(), "buffer.key")
	if err := WriteKeyFile(kf); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "db")
	child := func(mode string) []string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCommittedSurvivesCut$")
		cmd.Env = append(os.Environ(), "BUFFER_CUT_CHILD="+mode, "BUFFER_CUT_DIR="+dir, "BUFFER_CUT_KEY="+kf)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s child: %v\n%s", mode, err, stderr.Bytes())
		}
		return strings.Fields(string(out))
	}
	committed := child("write")
	if len(committed) != cutSegments-1 {
		t.Fatalf("the writer committed %d of %d segments: %v", len(committed), cutSegments, committed)
	}
	st, err := p.Cut()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the cut dropped %d bytes in %d file versions", st.DroppedBytes, st.DroppedFiles)
	if st.DroppedBytes == 0 {
		t.Fatal("the cut dropped nothing: the writer synced everything, so this test proves nothing")
	}
	verified := child("verify")
	if len(verified) != cutSegments {
		t.Fatalf("verified %d of %d segments: %v", len(verified), cutSegments, verified)
	}
	for _, line := range verified {
		if !strings.HasSuffix(line, ":ok") {
			t.Errorf("after the cut, committed segment %s", line)
		}
	}
}

// cutSegments segments of cutSegmentBytes each, in value-log files of
// 1 MiB: each segment spans several files.
const (
	cutSegments     = 6
	cutSegmentBytes = 3<<20 + 4321
)

func cutOpts(kf string) *Opts {
	return &Opts{KeyFile: kf, Reserve: 1 << 20, MemTableSize: 1 << 20, ValueLogFileSize: 1 << 20,
		ChunkSize: 128 << 10}
}

// cutChild writes the segments (printing each seq once Commit returned),
// leaving the last half-written, and exits without closing the buffer; or
// resumes the half-written one and reads them all back (printing seq:ok,
// seq:differs or seq:error(...)).
func cutChild(mode, dir string) error {
	b, err := Open(dir, cutOpts(os.Getenv("BUFFER_CUT_KEY")))
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	write := func(w Writer, data []byte, from, to int) error {
		for off := from; off < to; off += 100 << 10 {
			if _, err := w.Write(data[off:min(off+100<<10, to)]); err != nil {
				return err
			}
		}
		return nil
	}
	switch mode {
	case "write":
		for seq := uint64(1); seq <= cutSegments; seq++ {
			data := footage(seq, cutSegmentBytes)
			w, err := b.Begin(meta("BWC-CUT", seq, data, t0, false))
			if err != nil {
				return err
			}
			half := len(data) / 2
			if err := write(w, data, 0, half); err != nil {
				return err
			}
			if err := flushMemtable(b); err != nil {
				return err
			}
			if seq == cutSegments {
				return nil // the writer dies with the buffer open: nothing more is synced
			}
			if err := write(w, data, half, len(data)); err != nil {
				return err
			}
			if err := w.Commit(); err != nil {
				return err
			}
			fmt.Fprintln(out, seq)
			out.Flush()
		}
	case "verify":
		data := footage(cutSegments, cutSegmentBytes)
		w, err := b.Begin(meta("BWC-CUT", cutSegments, data, t0, false))
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if err := write(w, data, int(w.Offset()), len(data)); err != nil {
			return fmt.Errorf("resume at %d: %w", w.Offset(), err)
		}
		if err := w.Commit(); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		for seq := uint64(1); seq <= cutSegments; seq++ {
			data := footage(seq, cutSegmentBytes)
			status := "ok"
			r, err := b.Open("BWC-CUT", seq)
			if err == nil {
				h := sha256.New()
				_, err = io.Copy(h, io.NewSectionReader(r, 0, int64(len(data))))
				if want := sha256.Sum256(data); err == nil && !bytes.Equal(h.Sum(nil), want[:]) {
					status = "differs"
				}
			}
			if err != nil {
				status = "error(" + strings.ReplaceAll(err.Error(), " ", "_") + ")"
			}
			fmt.Fprintln(out, strconv.FormatUint(seq, 10)+":"+status)
		}
		return b.Close()
	default:
		return fmt.Errorf("unknown child mode %q", mode)
	}
	return nil
}

// flushMemtable rotates the memtable and waits for its flush to level 0.
func flushMemtable(b *Buffer) error {
	before := maxTableID(b.db)
	if err := b.rotateMemtable(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for maxTableID(b.db) <= before {
		if time.Now().After(deadline) {
			return errors.New("memtable not flushed within 10 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}
