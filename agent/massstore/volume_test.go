package massstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// openBuffer opens a real (encrypted) buffer, the index of the numbering.
func openBuffer(t *testing.T) *buffer.Buffer {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	if err := buffer.WriteKeyFile(key); err != nil {
		t.Fatal(err)
	}
	b, err := buffer.Open(filepath.Join(dir, "db"), &buffer.Opts{KeyFile: key, Capacity: 64 << 20, Reserve: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// dirVolume is a Volume over a plain directory (no mount), for the
// numbering and reading logic.
func dirVolume(t *testing.T, root string, ix Index, release string) *Volume {
	t.Helper()
	p, err := NewPort("/dev/disk/by-path/test", ix, &Opts{MountDir: root, Release: release}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &Volume{p: p, dir: root, id: Identity{Serial: "LEGACY-1", Officer: "o-1"}}
}

func put(t *testing.T, root, rel, content string, mtime time.Time) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func seqsOf(segs []docklink.Segment) map[uint64]uint64 {
	m := map[uint64]uint64{}
	for _, g := range segs {
		m[g.Seq] = g.Size
	}
	return m
}

// Files keep their numbers across dockings; new ones get the next numbers
// in recording order; numbers are never reused, and a file gone above the
// lowest still present leaves a hole.
func TestInventoryNumbering(t *testing.T) {
	ctx := context.Background()
	root, b := t.TempDir(), openBuffer(t)
	mt := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	put(t, root, "Record/2026-12-04/090000_0002.mp4", "bb", mt)
	put(t, root, "Record/2026-12-04/083000_0001.mp4", "a", mt)
	put(t, root, "Record/2026-12-04/notes.txt", "not footage", mt)
	put(t, root, ".hidden/083000_0001.mp4", "x", mt)
	v := dirVolume(t, root, b, ReleaseKeep)
	segs, last, err := v.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || last != 2 || segs[0].Size != 1 || segs[1].Size != 2 || segs[0].SHA256 != sha256.Sum256([]byte("a")) {
		t.Fatalf("first inventory %+v last %d", segs, last)
	}
	if want := time.Date(2026, 12, 4, 8, 30, 0, 0, time.UTC); !segs[0].Start.Equal(want) || segs[0].Officer != "o-1" {
		t.Errorf("seq 1 %+v, want start %s officer o-1", segs[0], want)
	}
	if v.Describe(1) != "mp4 Record/2026-12-04/083000_0001.mp4 (times from name)" {
		t.Errorf("describe %q", v.Describe(1))
	}

	// Docked again with a new, earlier-named file and the first one gone:
	// 2 keeps its number, the new file is 3; 1 is forgotten (below the lowest).
	put(t, root, "Record/2026-12-04/070000_0000.mp4", "ccc", mt)
	os.Remove(filepath.Join(root, "Record/2026-12-04/083000_0001.mp4"))
	v = dirVolume(t, root, b, ReleaseKeep)
	segs, last, err = v.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(segs); len(got) != 2 || got[2] != 2 || got[3] != 3 || last != 3 {
		t.Fatalf("second inventory %v last %d, want 2 (2 bytes) and 3 (3 bytes), last 3", got, last)
	}
	// A file changed in place (new size and time) is another recording: a
	// new number, and its old number is a hole above the lowest.
	put(t, root, "Record/2026-12-04/090000_0002.mp4", "bbbb", mt.Add(time.Hour))
	v = dirVolume(t, root, b, ReleaseKeep)
	segs, last, err = v.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(segs); len(got) != 2 || got[3] != 3 || got[4] != 4 || last != 4 {
		t.Fatalf("third inventory %v last %d, want 3 and 4, last 4", got, last)
	}
	ix, err := b.VolumeIndex("LEGACY-1")
	if err != nil || ix.Next != 5 || len(ix.Files) != 2 {
		t.Errorf("index %+v, %v: want next 5 and the two files present (2 is below the lowest, 3)", ix, err)
	}
}

// The copy reads a file a second time: bytes changed since the dock
// hashed it make the buffer's check fail (a hash mismatch, never other
// footage under the number); a size change is refused at once.
func TestFileChangedUnderTheDock(t *testing.T) {
	ctx := context.Background()
	root, b := t.TempDir(), openBuffer(t)
	mt := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	put(t, root, "DCIM/100MEDIA/FILE0001.MP4", "original", mt)
	put(t, root, "DCIM/100MEDIA/FILE0002.MP4", "second", mt.Add(time.Minute))
	v := dirVolume(t, root, b, ReleaseDelete)
	segs, _, err := v.Inventory(ctx)
	if err != nil || len(segs) != 2 {
		t.Fatalf("inventory %+v, %v", segs, err)
	}
	put(t, root, "DCIM/100MEDIA/FILE0001.MP4", "tampered", mt) // same size and time
	w, err := b.Begin(buffer.Meta{Serial: "LEGACY-1", Seg: segs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.ReadSegment(ctx, segs[0], w.Offset(), w); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, buffer.ErrHashMismatch) {
		t.Fatalf("commit of changed bytes: %v, want a hash mismatch", err)
	}
	// Releasing it would delete other bytes than the receipt's: refused
	// before the volume is touched.
	if err := v.Release(ctx, segs[0].Seq, segs[0].SHA256); !errors.Is(err, ErrChanged) {
		t.Errorf("release of a changed file: %v, want ErrChanged", err)
	}
	if _, err := os.Stat(filepath.Join(root, "DCIM/100MEDIA/FILE0001.MP4")); err != nil {
		t.Errorf("the changed file is gone: %v", err)
	}

	put(t, root, "DCIM/100MEDIA/FILE0002.MP4", "second, longer", mt.Add(time.Minute))
	var out bytes.Buffer
	if _, err := v.ReadSegment(ctx, segs[1], 0, &out); !errors.Is(err, ErrChanged) {
		t.Errorf("read of a file whose size changed: %v, want ErrChanged", err)
	}
	if err := v.Release(ctx, segs[1].Seq, sha256.Sum256([]byte("something else"))); err == nil {
		t.Error("release for another hash accepted")
	}
	kv := dirVolume(t, root, b, ReleaseKeep)
	if err := kv.Release(ctx, 1, segs[0].SHA256); err == nil {
		t.Error("the keep policy released footage")
	}
}

func TestReadIdentity(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		file, content string
		want          Identity
		ok            bool
	}{
		{"ID.TXT", "DSJ-0042\n", Identity{Serial: "DSJ-0042"}, true},
		{"ID.TXT", "\ufeff[device]\r\ndevice_id = DSJ-0042\r\npolice_id: o-7\r\nmodel=X1\r\n", Identity{Serial: "DSJ-0042", Officer: "o-7", Model: "X1"}, true},
		{"ID.TXT", "serial=DSJ 0042\n", Identity{}, false},
		{"ID.TXT", "serial=R1\nofficer=bad officer\n", Identity{Serial: "R1"}, true},
		{"../ID.TXT", "serial=R2\n", Identity{Serial: "R2"}, true}, // read inside the volume, whatever the name says
		{"ID.TXT", "", Identity{}, false},
	} {
		put(t, root, "ID.TXT", tc.content, time.Now())
		got, err := ReadIdentity(root, tc.file)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v ok=%v", tc.content, got, err, tc.want, tc.ok)
		}
	}
	if _, err := ReadIdentity(root, "MISSING.TXT"); err == nil {
		t.Error("a missing identity file was accepted")
	}
}

// A recorder that cuts a long recording into files: a file whose next one
// starts where it ends is an automatic split; the last stop is unknown.
func TestInferSplits(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	segs := []docklink.Segment{
		{Seq: 1, Start: t0, End: t0.Add(5 * time.Minute)},
		{Seq: 3, Start: t0.Add(20 * time.Minute), End: t0.Add(21 * time.Minute)},
		{Seq: 2, Start: t0.Add(5*time.Minute + time.Second), End: t0.Add(10 * time.Minute)},
	}
	inferSplits(segs)
	want := map[uint64]docklink.StopCause{1: docklink.StopAutoSplit, 2: docklink.StopUnknown, 3: docklink.StopUnknown}
	for _, g := range segs {
		if g.StopCause != want[g.Seq] {
			t.Errorf("seq %d: stop cause %v, want %v", g.Seq, g.StopCause, want[g.Seq])
		}
	}
}
