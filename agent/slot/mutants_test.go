package slot_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// releaseMutant is a fixed change to the release path that the tests must
// catch: in file, old is replaced by new, and then the tests of pkgs
// (matching run, if set) must fail.
type releaseMutant struct {
	name     string
	file     string
	old, new string
	pkgs     []string
	run      string
}

var releaseMutants = []releaseMutant{
	{name: "release before receipt", file: "agent/slot/session.go",
		old: `		rcpt := k.Receipt
		if k.Phase == buffer.PhaseBuffered {`,
		new: `		rcpt := k.Receipt
		if k.Phase == buffer.PhaseBuffered && d.hole == "" {
			if err := c.Release(ctx, seg.Seq, seg.SHA256); err == nil {
				s.update(true, func(st *wire.SlotState) { st.Released++ })
				k.Phase = buffer.PhaseReleased
			}
		}
		if k.Phase == buffer.PhaseBuffered || k.Phase == buffer.PhaseReleased && rcpt == nil {`,
		pkgs: []string{"./agent/slot/", "./agent/dock/"}, run: "TestReleaseWaitsForReceipt|TestReceiptRemoved|TestEndToEnd/embedded/sqlite"},
	// The one check of a receipt's signature, before the buffer holds it
	// and so before any release.
	{name: "skip the receipt's signature check", file: "agent/uploader/client.go",
		old:  `if err := c.keys.Verify(&r, device, seq, sha256hex, size); err != nil {`,
		new:  `if err := c.keys.Verify(&r, device, seq, sha256hex, size); false && err != nil {`,
		pkgs: []string{"./agent/uploader/", "./cloud/upload/server/"}},
	{name: "skip the hash comparison at commit", file: "agent/buffer/writer.go",
		old:  `ok := bytes.Equal(sum, w.want[:])`,
		new:  `ok := true || bytes.Equal(sum, w.want[:])`,
		pkgs: []string{"./agent/buffer/"}, run: "Hash|Mismatch|Faulty|Commit"},
	{name: "release despite a sequence hole", file: "agent/slot/session.go",
		old:  `if d.hole != "" || k.Phase == buffer.PhaseReleased {`,
		new:  `if k.Phase == buffer.PhaseReleased {`,
		pkgs: []string{"./agent/slot/"}},
}

// TestReleasePathMutants applies each fixed mutation of the release path
// (release before the receipt, no signature check, no hash comparison at
// the buffer's commit, release despite a hole) to a copy of the module and
// fails if the tests still pass with it. It takes a minute or two, so it
// runs only with BERTH_MUTANTS set (CI sets it).
func TestReleasePathMutants(t *testing.T) {
	if os.Getenv("BERTH_MUTANTS") == "" {
		t.Skip("set BERTH_MUTANTS=1 to run the release-path mutation check")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	tree := filepath.Join(t.TempDir(), "tree")
	if err := copyTree(root, tree); err != nil {
		t.Fatal(err)
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	for _, m := range releaseMutants {
		t.Run(m.name, func(t *testing.T) {
			path := filepath.Join(tree, m.file)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(orig, []byte(m.old)); n != 1 {
				t.Fatalf("%s holds the mutated code %d times, want once: the code moved, update the mutant", m.file, n)
			}
			if err := os.WriteFile(path, bytes.Replace(orig, []byte(m.old), []byte(m.new), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := os.WriteFile(path, orig, 0o644); err != nil {
					t.Fatal(err)
				}
			}()
			// The copy holds this test too: its run must not recurse.
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "BERTH_MUTANTS=") {
					env = append(env, kv)
				}
			}
			build := exec.Command(goBin, "-C", tree, "build", "./...")
			build.Env = env
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("the mutant does not build (it must, to be judged by the tests): %v\n%s", err, out)
			}
			args := []string{"-C", tree, "test", "-count=1", "-failfast"}
			if m.run != "" {
				args = append(args, "-run", m.run)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			test := exec.CommandContext(ctx, goBin, append(args, m.pkgs...)...)
			test.Env = env
			out, err := test.CombinedOutput()
			if err == nil {
				t.Errorf("mutant %q survived: %s pass with it\n%s", m.name, strings.Join(m.pkgs, " "), out)
				return
			}
			var failed []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "--- FAIL") {
					failed = append(failed, strings.TrimSpace(l))
				}
			}
			if len(failed) == 0 {
				t.Errorf("mutant %q: go test failed without a failing test (%v):\n%s", m.name, err, out)
				return
			}
			t.Logf("killed by %s", strings.Join(failed, "; "))
		})
	}
}

// copyTree copies the module at src (without .git) to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".ci") && rel != "." {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
