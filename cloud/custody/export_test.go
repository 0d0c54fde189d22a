package custody_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/evidence/s3test"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// segment commits footage b as R1's segment seq in both stores, with the
// collector's receipt, as an upload would.
func segment(t *testing.T, st *store.Store, ev evidence.Store, key ed25519.PrivateKey, seq uint64, b []byte) wire.Receipt {
	t.Helper()
	return segmentAt(t, st, ev, key, seq, b, time.Now().Add(-2*time.Hour).UTC().Truncate(time.Second))
}

// segmentAt is segment recorded at start.
func segmentAt(t *testing.T, st *store.Store, ev evidence.Store, key ed25519.PrivateKey, seq uint64, b []byte, start time.Time) wire.Receipt {
	t.Helper()
	ctx := context.Background()
	obj := commit(t, ev, b)
	m := &wire.SegmentManifest{Serial: "R1", Seq: seq, Start: start, End: start.Add(time.Minute), Size: int64(len(b)), SHA256: obj.ID,
		StopCause: wire.StopAutoSplit, Officer: "o-1001", CaseTag: "case-1", Media: "h264/aac", ClockSyncedAt: start,
		State: wire.SegBuffered}
	env, err := wire.NewEnvelope("m"+obj.ID[:8], "dock-1", start, wire.TypeSegmentManifest, m)
	if err != nil {
		t.Fatal(err)
	}
	body, err := wire.DecodeBody(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, []store.Incoming{{Env: env, Body: body}}); err != nil {
		t.Fatal(err)
	}
	r := wire.Receipt{ObjectID: obj.Ref(), Device: "R1", Seq: seq, SHA256: obj.ID, Size: obj.Size, StoredAt: time.Now().UTC()}
	r.Sign(wire.KeyID(key.Public().(ed25519.PublicKey)), key)
	if err := st.RecordReceipt(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestExportWithApproval(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name string
		open func(t *testing.T) evidence.Store
	}{
		{"fs", func(t *testing.T) evidence.Store {
			f, err := evidence.OpenFS(t.TempDir(), quiet)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}},
		{"s3", func(t *testing.T) evidence.Store { return s3test.Start(t).Open(t, evidence.S3Opts{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ev := tc.open(t)
			st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"), &store.Opts{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			pub, key, _ := ed25519.GenerateKey(rand.Reader)
			r1 := segment(t, st, ev, key, 1, []byte("first original"))
			segment(t, st, ev, key, 2, []byte("second original"))

			officer := store.Actor{Name: "o-1001", Role: "officer", Unit: "unit-7"}
			items := []store.ExportItem{{Serial: "R1", Seq: 1}, {Serial: "R1", Seq: 2}}
			if _, err := st.RequestExport(ctx, store.Export{Unit: "unit-7", Recipient: "county prosecutor", Purpose: "case-1 trial",
				By: store.Actor{Name: "zhao", Role: "auxiliary"}, Items: items}); !errors.Is(err, store.ErrNotPermitted) {
				t.Fatalf("an auxiliary's request: %v", err)
			}
			if _, err := st.RequestExport(ctx, store.Export{Unit: "unit-7", Recipient: "court", Purpose: "x", By: officer,
				Items: []store.ExportItem{{Serial: "R1", Seq: 9}}}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a request for footage not in evidence: %v", err)
			}
			id, err := st.RequestExport(ctx, store.Export{Unit: "unit-7", Recipient: "county prosecutor", Purpose: "case-1 trial",
				By: officer, Items: items})
			if err != nil {
				t.Fatal(err)
			}
			x := custody.Exporter{Store: st, Evidence: ev, Key: key}
			if _, err := x.Package(ctx, id, officer, filepath.Join(t.TempDir(), "early")); !errors.Is(err, store.ErrExportState) {
				t.Fatalf("packaging before approval: %v", err)
			}
			for _, tc := range []struct {
				name string
				by   store.Actor
				want error
			}{
				{"the requester", store.Actor{Name: "o-1001", Role: "supervisor", Unit: "unit-7"}, store.ErrNotPermitted},
				{"another unit's supervisor", store.Actor{Name: "chief-liu", Role: "supervisor", Unit: "unit-8"}, store.ErrNotPermitted},
				{"a custodian", store.Actor{Name: "cust", Role: "custodian", Unit: "unit-7"}, store.ErrNotPermitted},
			} {
				if err := st.DecideExport(ctx, id, tc.by, true, ""); !errors.Is(err, tc.want) {
					t.Fatalf("approval by %s: %v", tc.name, err)
				}
			}
			chief := store.Actor{Name: "chief-wang", Role: "supervisor", Unit: "unit-7"}
			if err := st.DecideExport(ctx, id, chief, true, "approved for trial"); err != nil {
				t.Fatal(err)
			}
			if err := st.DecideExport(ctx, id, chief, true, ""); !errors.Is(err, store.ErrExportState) {
				t.Fatalf("approving twice: %v", err)
			}
			dir := filepath.Join(t.TempDir(), "export")
			m, err := x.Package(ctx, id, store.Actor{Name: "section-clerk", Role: "custodian", Unit: "unit-7"}, dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Items) != 2 || m.ApprovedBy != chief || m.Items[0].Object != r1.ObjectID || len(m.Items[0].Custody) < 3 {
				t.Fatalf("manifest %+v", m)
			}
			got, err := custody.VerifyPackage(dir, wire.ReceiptKeys{pub})
			if err != nil || got.Export != id {
				t.Fatalf("VerifyPackage: %+v %v", got, err)
			}
			if _, err := x.Package(ctx, id, chief, filepath.Join(t.TempDir(), "again")); !errors.Is(err, store.ErrExportState) {
				t.Fatalf("packaging twice: %v", err)
			}
			e, err := st.Export(ctx, id)
			if err != nil || e.State() != store.ExportPackaged || e.Events[2].Manifest == "" {
				t.Fatalf("export %+v %v: packaged, the manifest kept", e, err)
			}
			as, err := st.AccessLog(ctx, store.AccessQuery{ObjectID: r1.ObjectID})
			if err != nil || len(as) != 3 || as[0].Action != "export-requested" || as[1].Action != "export-approved" || as[2].Action != "export" {
				t.Fatalf("access log %+v %v: every step", as, err)
			}
			// A changed original, or another key, does not verify.
			other, _, _ := ed25519.GenerateKey(rand.Reader)
			if _, err := custody.VerifyPackage(dir, wire.ReceiptKeys{other}); !errors.Is(err, custody.ErrPackage) {
				t.Fatalf("another key: %v", err)
			}
			f := filepath.Join(dir, m.Items[1].File)
			os.Chmod(f, 0o644)
			if err := os.WriteFile(f, []byte("second originaL"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := custody.VerifyPackage(dir, wire.ReceiptKeys{pub}); !errors.Is(err, custody.ErrPackage) {
				t.Fatalf("a changed original: %v", err)
			}
		})
	}
}
