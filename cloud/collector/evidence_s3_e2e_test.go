package collector_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/evidence/s3test"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// TestEvidenceS3EndToEnd: a dock uploads through a collector whose
// evidence is an S3 bucket with object lock; halfway through the first
// collector stops and a second instance (its own data directory; the
// shared database, bucket and signing key) takes over. The dock resumes
// every staged upload where the first instance left it (the second one
// receives exactly the bytes that were not staged), every segment is
// receipted on its own locked version, read back identical, and released.
func TestEvidenceS3EndToEnd(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	secret := filepath.Join(dir, "s3.secret")
	if err := os.WriteFile(secret, []byte(srv.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s3cfg := collector.S3Config{Endpoint: srv.Endpoint, Bucket: "berth-e2e", AccessKey: srv.AccessKey,
		SecretKeyFile: secret, Mode: "GOVERNANCE", CreateBucket: true}
	var recs []*recsim.Recorder
	for i := range 2 {
		r, err := recsim.Generate(uint64(300+i), &recsim.GenOpts{Segments: 2, MinSize: 5 << 20, MaxSize: 6 << 20,
			Start: time.Now().Add(-3 * time.Hour)}, &recsim.Config{Serial: fmt.Sprintf("S3E2E-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	log := slog.New(slog.DiscardHandler)
	w, err := testworld.Start(ctx, testworld.Config{Dir: dir, Log: log, Unit: "unit-s3", Recorders: recs,
		Collector: func(cc *collector.Config) {
			cc.S3 = s3cfg
			cc.Store = filepath.Join(dir, "shared.db")
			cc.SigningKeyFile = filepath.Join(dir, "receipt.key")
		},
		// Slow enough that the hand-over happens mid-upload, in chunks
		// smaller than a segment (the default would send each whole).
		Dock: func(dc *dock.Config) { dc.Collector.Rate, dc.Collector.Chunk = 2<<20, 2<<20 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := w.DockAll(); err != nil {
		t.Fatal(err)
	}

	// Wait until an upload has durable bytes in the bucket, then stop the
	// first collector.
	lister := w.Col.Evidence().(interface {
		StagingAreas(context.Context) ([]evidence.StagingArea, error)
	})
	deadline := time.Now().Add(2 * time.Minute)
	for staged := false; !staged; {
		as, err := lister.StagingAreas(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if s, err := w.Col.Evidence().Staged(ctx, a.ID); err == nil && s.Offset > 0 && s.Offset < s.Size {
				staged = true
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no upload staged bytes within 2 minutes")
		}
		time.Sleep(20 * time.Millisecond) // polling the bucket
	}
	if err := w.StopCollector(); err != nil {
		t.Fatal(err)
	}

	// What the second instance must still receive: every unreceipted
	// segment's bytes less what is staged in the bucket.
	want := int64(0)
	st, err := store.Open(ctx, w.ColCfg.Store, &store.Opts{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		for _, g := range w.Orig[r.Serial()] {
			if _, ok, err := st.Receipt(ctx, r.Serial(), g.Seq); err != nil {
				t.Fatal(err)
			} else if !ok {
				want += g.Size
			}
		}
	}
	st.Close()
	ev, err := evidence.OpenS3(ctx, srv.Opts(evidence.S3Opts{Bucket: s3cfg.Bucket}))
	if err != nil {
		t.Fatal(err)
	}
	as, err := ev.StagingAreas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var held int64
	for _, a := range as {
		s, err := ev.Staged(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		held += s.Offset
	}
	if held == 0 {
		t.Fatal("nothing staged at the hand-over")
	}
	want -= held

	// The second instance: its own data directory (the evidence directory
	// there stays unused), the same database, bucket and key.
	w.ColCfg.DataDir = filepath.Join(dir, "collector-2")
	w.ColCfg.Evidence = filepath.Join(dir, "collector-2", "evidence")
	if err := w.StartCollector(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitSettled(ctx, 3*time.Minute, 0); err != nil {
		t.Fatal(err)
	}
	tally, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tally.Problems {
		t.Error(p)
	}
	if !tally.Zero() || tally.Segments != 4 || tally.Released != 4 || tally.Objects != 4 {
		t.Fatalf("%v; want 4 segments, each stored once and released", tally)
	}
	if got := counter(t, w.Col, "berth_upload_bytes_total"); got != float64(want) {
		t.Fatalf("the second collector received %v bytes; the unstaged rest was %d (%d were staged)", got, want, held)
	}
	if _, err := os.Stat(filepath.Join(w.ColCfg.Evidence, "objects")); err == nil {
		if ents, _ := os.ReadDir(filepath.Join(w.ColCfg.Evidence, "objects")); len(ents) != 0 {
			t.Fatalf("the evidence directory holds objects beside the bucket")
		}
	}
	for _, r := range recs {
		for _, g := range w.Orig[r.Serial()] {
			rc, ok, err := w.Col.Store().Receipt(ctx, r.Serial(), g.Seq)
			if err != nil || !ok {
				t.Fatalf("%s/%d: receipt %v %v", r.Serial(), g.Seq, ok, err)
			}
			if _, v, err := evidence.ParseRef(rc.ObjectID); err != nil || v == "" {
				t.Fatalf("%s/%d: receipt object %q names no version", r.Serial(), g.Seq, rc.ObjectID)
			}
			l, err := ev.Lock(ctx, rc.ObjectID)
			if err != nil || l.Mode != evidence.Governance || l.RetainUntil.Before(time.Now().Add(300*24*time.Hour)) {
				t.Fatalf("%s/%d: lock %+v %v", r.Serial(), g.Seq, l, err)
			}
		}
	}
}

// counter sums a counter of the collector's registry.
func counter(t *testing.T, c *collector.Collector, name string) float64 {
	t.Helper()
	mfs, err := c.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
		}
	}
	return v
}
