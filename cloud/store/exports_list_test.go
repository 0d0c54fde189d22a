package store

import (
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/berthdock/berth/cloud/wire"
)

func TestExportsList(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		key := ed25519.NewKeyFromSeed(make([]byte, 32))
		r := wire.Receipt{ObjectID: hash64("y"), Device: "R2", Seq: 1, SHA256: hash64("y"), Size: 10, StoredAt: t0}
		r.Sign("k", key)
		if err := s.RecordReceipt(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids := map[string]int64{}
		for _, u := range []string{"unit-1", "unit-2", "unit-1"} {
			id, err := s.RequestExport(ctx, Export{Unit: u, Recipient: "court", Purpose: "trial", By: Actor{Name: "o-" + u, Role: "officer"},
				Items: []ExportItem{{Serial: "R2", Seq: 1}}})
			if err != nil {
				t.Fatal(err)
			}
			ids[u] = id // the last of unit-1
		}
		if err := s.DecideExport(ctx, ids["unit-1"], Actor{Name: "chief", Role: "supervisor", Unit: "unit-1"}, true, ""); err != nil {
			t.Fatal(err)
		}
		for name, tc := range map[string]struct {
			f    ExportFilter
			want int
		}{
			"all": {ExportFilter{}, 3}, "unit-1": {ExportFilter{Units: []string{"unit-1"}}, 2}, "no units": {ExportFilter{Units: []string{}}, 0},
			"requested in unit-1": {ExportFilter{Units: []string{"unit-1"}, State: ExportRequested}, 1},
			"approved":            {ExportFilter{State: ExportApproved}, 1}, "by o-unit-2": {ExportFilter{By: "o-unit-2"}, 1},
		} {
			es, err := s.Exports(ctx, tc.f)
			if err != nil || len(es) != tc.want {
				t.Errorf("%s: %d exports (%v), want %d", name, len(es), err, tc.want)
			}
			for i := 1; i < len(es); i++ {
				if es[i].ID > es[i-1].ID {
					t.Errorf("%s: not newest first", name)
				}
			}
		}
	})
}
