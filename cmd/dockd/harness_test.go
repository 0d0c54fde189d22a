package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// buildDockd builds this package's binary for the subprocess tests and
// benchmarks: plain, without -race (the subprocess is judged by what it
// does, and a fast start keeps kill cycles short), CGO_ENABLED=0 as shipped.
func buildDockd(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "dockd")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build dockd: %v\n%s", err, out)
	}
	return bin
}

// randHex is n random bytes in hex (ids and tokens).
func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tbWriter sends slog lines to the test log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
