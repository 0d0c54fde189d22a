package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// The export steps on both drivers (cloud/custody tests the package).
func TestExportSteps(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		key := ed25519.NewKeyFromSeed(make([]byte, 32))
		r := wire.Receipt{ObjectID: hash64("x") + "@v1", Device: "R1", Seq: 3, SHA256: hash64("x"), Size: 10, StoredAt: t0}
		r.Sign("k", key)
		if err := s.RecordReceipt(ctx, r); err != nil {
			t.Fatal(err)
		}
		req := Actor{Name: "o-1", Role: "officer"}
		id, err := s.RequestExport(ctx, Export{Unit: "unit-1", Recipient: "court", Purpose: "trial", By: req,
			Items: []ExportItem{{Serial: "R1", Seq: 3}}})
		if err != nil {
			t.Fatal(err)
		}
		chief := Actor{Name: "chief", Role: "supervisor", Unit: "unit-1"}
		if err := s.RecordExportPackaged(ctx, id, chief, "m", "d"); !errors.Is(err, ErrExportState) {
			t.Fatalf("packaged before approval: %v", err)
		}
		if err := s.DecideExport(ctx, id, chief, false, ""); !errors.Is(err, ErrArgument) {
			t.Fatalf("a refusal without a reason: %v", err)
		}
		if err := s.DecideExport(ctx, id, chief, false, "not this case"); err != nil {
			t.Fatal(err)
		}
		if err := s.DecideExport(ctx, id, chief, true, ""); !errors.Is(err, ErrExportState) {
			t.Fatalf("approving a refused export: %v", err)
		}
		e, err := s.Export(ctx, id)
		if err != nil || e.State() != ExportRefused || len(e.Items) != 1 || e.Items[0].Object != r.ObjectID || e.Events[1].By != chief {
			t.Fatalf("export %+v %v", e, err)
		}
		as, err := s.AccessLog(ctx, AccessQuery{ObjectID: r.ObjectID, Since: t0.Add(-time.Hour)})
		if err != nil || len(as) != 2 || as[1].Action != "export-refused" || as[1].Granted {
			t.Fatalf("access log %+v %v", as, err)
		}
	})
}
