// Package s3test starts a real S3 server for tests: versitygw (v1.8.0)
// with its POSIX backend and a versioning directory, which gives buckets
// versioning and object lock, on a loopback port over a temporary
// directory. Every evidence test that needs S3 starts one here, so "is the
// S3 server there" is decided once: a test skips when the binary is absent
// and BERTH_REQUIRE_S3 is unset, and fails when the variable is set (CI
// sets it).
//
// The binary is $BERTH_VERSITYGW, else versitygw on PATH, else in $GOBIN
// or $GOPATH/bin (where `go install
// github.com/versity/versitygw/cmd/versitygw@v1.8.0` puts it).
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/berthdock/berth/cloud/evidence"
)

// Server is a running versitygw; its root account's keys are AccessKey and
// SecretKey (the same the stores it opens use: the tests' "backend's own
// credentials").
type Server struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string
	Dir       string // the POSIX backend's root
	proc      *os.Process
}

// CPUTime is the user+system CPU time versitygw has used so far (from
// /proc on Linux; 0 elsewhere): benchmarks report it beside their own,
// since the server's work is part of what an upload costs.
func (s *Server) CPUTime() time.Duration {
	if s == nil || s.proc == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.proc.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command's closing parenthesis; utime and stime
	// are the 14th and 15th of the whole line, in clock ticks (100/s).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	var ticks int64
	for _, v := range f[11:13] {
		var n int64
		fmt.Sscan(v, &n)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// Binary returns the versitygw binary's path, or "" if there is none.
func Binary() string {
	if p := os.Getenv("BERTH_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// Start starts versitygw for t (stopped at t's cleanup), or skips t when
// the binary is absent and BERTH_REQUIRE_S3 is unset.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("BERTH_REQUIRE_S3") != "" {
			t.Fatal("s3test: BERTH_REQUIRE_S3 is set but no versitygw binary was found " +
				"(go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
		}
		t.Skip("s3test: no versitygw binary; set BERTH_REQUIRE_S3=1 to demand it")
	}
	dir := t.TempDir()
	s := &Server{AccessKey: "berthtest", SecretKey: "berthtest-" + randHex(8), Dir: filepath.Join(dir, "root")}
	versions := filepath.Join(dir, "versions")
	for _, d := range []string{s.Dir, versions} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var last error
	for try := 0; try < 5; try++ { // a free port can be taken between finding and binding it
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
		logPath := filepath.Join(dir, fmt.Sprintf("versitygw-%d.log", try))
		if last = s.run(t, bin, versions, logPath); last == nil {
			return s
		}
		b, _ := os.ReadFile(logPath)
		t.Logf("s3test: versitygw on %s: %v\n%s", s.Endpoint, last, b)
	}
	t.Fatalf("s3test: versitygw did not start: %v", last)
	return nil
}

func (s *Server) run(t testing.TB, bin, versions, logPath string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", s.Endpoint, "--quiet",
		"posix", "--versioning-dir", versions, s.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath, MaxRetries: 1})
	if err != nil {
		stop()
		return err
	}
	deadline := time.Now().Add(60 * time.Second) // a loaded 2-core machine
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, lerr := c.ListBuckets(ctx)
		cancel()
		if lerr == nil {
			t.Cleanup(stop)
			s.proc = cmd.Process
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v (last answer %v)", err, lerr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("not answering after 60 s: %v", lerr)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Opts are the S3Opts of a store on this server: a new bucket (unless
// o.Bucket names one), made with object lock, in Governance mode with a
// one-year retention unless o says otherwise, logging nowhere.
func (s *Server) Opts(o evidence.S3Opts) evidence.S3Opts {
	o.Endpoint, o.AccessKey, o.SecretKey = s.Endpoint, s.AccessKey, s.SecretKey
	if o.Bucket == "" {
		o.Bucket = "ev-" + randHex(6)
	}
	o.CreateBucket = true
	if o.Mode == "" {
		o.Mode = evidence.Governance
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Open opens an evidence store on this server (see Opts).
func (s *Server) Open(t testing.TB, o evidence.S3Opts) *evidence.S3 {
	t.Helper()
	st, err := evidence.OpenS3(context.Background(), s.Opts(o))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Client is a raw S3 client with the server's root credentials, for tests
// that try what the store never does (deleting or overwriting a version).
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
