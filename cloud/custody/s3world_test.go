package custody_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/evidence/s3test"
	"github.com/berthdock/berth/cloud/store"
)

// s3World is what the custody jobs' S3 tests run on: versitygw started
// for the test (skipped as s3test.Start says), the evidence store on a new
// bucket of it opened with so, and a SQLite store; quiet discards logs.
type s3World struct {
	srv   *s3test.Server
	o     evidence.S3Opts
	ev    *evidence.S3
	st    *store.Store
	quiet *slog.Logger
}

func newS3World(t *testing.T, so evidence.S3Opts) s3World {
	t.Helper()
	ctx := context.Background()
	w := s3World{quiet: slog.New(slog.NewTextHandler(io.Discard, nil)), srv: s3test.Start(t)}
	w.o = w.srv.Opts(so)
	var err error
	if w.ev, err = evidence.OpenS3(ctx, w.o); err != nil {
		t.Fatal(err)
	}
	if w.st, err = store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"), &store.Opts{Logger: w.quiet}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.st.Close() })
	return w
}
