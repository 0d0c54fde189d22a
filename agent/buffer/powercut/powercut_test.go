package powercut

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// MountForTest mounts a fault-injecting filesystem in a temporary
// directory, unmounted at the test's end. It skips when /dev/fuse is
// missing and BERTH_REQUIRE_FUSE is unset.
func mountForTest(t *testing.T) *FS {
	t.Helper()
	backing, mnt := t.TempDir(), t.TempDir()
	p, err := Mount(backing, mnt)
	if errors.Is(err, ErrNoFUSE) && os.Getenv("BERTH_REQUIRE_FUSE") == "" {
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
	return p
}

func TestCutKeepsOnlySynced(t *testing.T) {
	p := mountForTest(t)
	path := filepath.Join(p.Mnt, "log")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	must(t)(f.WriteAt([]byte("synced-bytes"), 0))
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	must(t)(f.WriteAt([]byte("XX"), 0))                // overwrite after the sync
	must(t)(f.WriteAt([]byte("-tail-not-synced"), 12)) // append after the sync
	if err := f.Truncate(4); err != nil {              // then shrink
		t.Fatal(err)
	}
	must(t)(f.WriteAt([]byte("more"), 20))
	f.Close()

	// A file created, written and never synced; one synced and renamed.
	if err := os.WriteFile(filepath.Join(p.Mnt, "fresh"), []byte("never synced"), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := os.Create(filepath.Join(p.Mnt, "moved"))
	if err != nil {
		t.Fatal(err)
	}
	must(t)(g.Write([]byte("kept")))
	g.Sync()
	must(t)(g.Write([]byte(" dropped")))
	g.Close()
	if err := os.Rename(filepath.Join(p.Mnt, "moved"), filepath.Join(p.Mnt, "renamed")); err != nil {
		t.Fatal(err)
	}

	// Before the cut every write reads back.
	if b, _ := os.ReadFile(path); len(b) != 24 || string(b[:2]) != "XX" {
		t.Fatalf("before the cut: %q", b)
	}
	cut, err := p.Cut()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cut: %+v", cut)
	for name, want := range map[string]string{"log": "synced-bytes", "fresh": "", "renamed": "kept"} {
		b, err := os.ReadFile(filepath.Join(p.Mnt, name))
		if err != nil || string(b) != want {
			t.Errorf("%s after the cut: %q (%v), want %q", name, b, err, want)
		}
	}
	if cut.DroppedFiles != 3 {
		t.Errorf("cut rolled back %d files, want 3", cut.DroppedFiles)
	}
	// A second cut with nothing written drops nothing.
	if cut, err := p.Cut(); err != nil || cut.DroppedFiles != 0 {
		t.Errorf("second cut: %+v, %v", cut, err)
	}
}

// TestCutMmap: badger writes its memtable log through a shared mapping;
// what msync flushed survives, what was only dirtied does not. The mapping
// is made in a child process (this test binary again): a page fault on a
// FUSE file in the process serving it can deadlock with the Go runtime's
// stop-the-world.
func TestCutMmap(t *testing.T) {
	if path := os.Getenv("POWERCUT_MMAP_CHILD"); path != "" {
		if err := mmapChild(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	p := mountForTest(t)
	path := filepath.Join(p.Mnt, "00001.mem")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCutMmap$")
	cmd.Env = append(os.Environ(), "POWERCUT_MMAP_CHILD="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mmap child: %v\n%s", err, out)
	}
	if _, err := p.Cut(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != mmapSize || !bytes.HasPrefix(b, []byte("first entry")) || !bytes.Equal(b[8192:8192+26], make([]byte, 26)) {
		t.Fatalf("after the cut: %d bytes, head %q, second page %q", len(b), b[:11], b[8192:8192+26])
	}
}

const mmapSize = 1 << 16

func mmapChild(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(mmapSize); err != nil {
		return err
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, mmapSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap on FUSE: %w", err)
	}
	copy(m, "first entry")
	if err := msync(m); err != nil {
		return err
	}
	copy(m[8192:], "second entry, only dirtied")
	return syscall.Munmap(m)
}

func msync(b []byte) error {
	return unixMsync(b)
}

func must(t *testing.T) func(int, error) {
	return func(_ int, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func unixMsync(b []byte) error { return unix.Msync(b, unix.MS_SYNC) }
