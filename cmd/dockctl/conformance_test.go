package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// serveRecsim serves one fixture recorder in process on 127.0.0.1:0.
func serveRecsim(t *testing.T, opts *recsim.ServerOpts, faults ...recsim.Fault) (*recsim.Recorder, *recsim.Server) {
	t.Helper()
	r, err := recsim.Load("../../firmware-protocol/recsim/fixtures/recorder", &recsim.Config{Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := recsim.NewServer([]*recsim.Recorder{r}, opts)
	if errors.Is(err, recsim.ErrNoPTY) && os.Getenv("BERTH_REQUIRE_PTY") == "" {
		t.Skipf("%v (set BERTH_REQUIRE_PTY to require pseudo-terminals)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return r, srv
}

func conformanceRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	code := run(context.Background(), append([]string{"conformance"}, args...), &out, &errb)
	t.Log("\n" + out.String() + errb.String())
	return code, out.String(), errb.String()
}

func TestConformancePassesAgainstRecsim(t *testing.T) {
	r, srv := serveRecsim(t, nil)
	for _, key := range []string{r.PublicKeyBase64(), r.Serial() + "=" + r.PublicKeyBase64()} {
		code, out, _ := conformanceRun(t, "--addr", srv.Addr(0), "--key", key, "--timeout", "10s")
		if code != 0 || !strings.Contains(out, "CONFORMS") || strings.Contains(out, "DOES NOT") || !strings.Contains(out, "verified with the enrolled key") {
			t.Fatalf("exit %d", code)
		}
	}
}

func TestConformanceFailsOnBrokenDevice(t *testing.T) {
	r, srv := serveRecsim(t, nil, recsim.Fault{Kind: recsim.FaultWrongHash, N: 2})
	code, out, _ := conformanceRun(t, "--addr", srv.Addr(0), "--key", r.PublicKeyBase64())
	if code != 1 || !strings.Contains(out, "DOES NOT CONFORM") {
		t.Fatalf("exit %d", code)
	}
	var failLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "FAIL") {
			failLine = l
		}
	}
	if !strings.HasPrefix(failLine, "§9.3") || !strings.Contains(failLine, "seq 2") {
		t.Fatalf("failure line %q, want §9.3 naming seq 2", failLine)
	}
}

func TestConformanceWrongEnrolledKey(t *testing.T) {
	_, srv := serveRecsim(t, nil)
	other := recsim.DeriveKey("someone else").Public()
	code, out, _ := conformanceRun(t, "--addr", srv.Addr(0), "--key", base64Key(other))
	if code != 1 || !strings.Contains(out, "§6.2") {
		t.Fatalf("exit %d", code)
	}
}

func TestConformanceOverSerialPort(t *testing.T) {
	r, srv := serveRecsim(t, &recsim.ServerOpts{PTY: true, PTYDir: t.TempDir()})
	if srv.PTYPath(0) == "" {
		t.Fatal("a pty server gave the recorder no pty path")
	}
	code, out, _ := conformanceRun(t, "--port", srv.PTYPath(0), "--key", r.PublicKeyBase64())
	if code != 0 || !strings.Contains(out, "CONFORMS") {
		t.Fatalf("exit %d", code)
	}
}

func TestConformanceUsageAndUnreachable(t *testing.T) {
	for _, args := range [][]string{{}, {"--port", "a", "--addr", "b"}, {"--addr", "x:1", "--key", "not-a-key"}, {"--addr", "x:1", "extra"}} {
		if code, _, _ := conformanceRun(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code, out, _ := conformanceRun(t, "--addr", "127.0.0.1:1", "--timeout", "1s"); code != 1 || !strings.Contains(out, "DOES NOT CONFORM") {
		t.Errorf("unreachable device: exit %d", code)
	}
}

func base64Key(k any) string {
	return base64.StdEncoding.EncodeToString(k.(ed25519.PublicKey))
}
