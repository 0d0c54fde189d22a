package custody_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/evidence/s3test"
	"github.com/berthdock/berth/cloud/store"
)

func commit(t *testing.T, ev evidence.Store, b []byte) evidence.Object {
	t.Helper()
	ctx := context.Background()
	const id = "00112233445566778899aabbccddeeff"
	s := sha256.Sum256(b)
	sum := hex.EncodeToString(s[:])
	if _, err := ev.Begin(ctx, id, int64(len(b)), sum, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Append(ctx, id, 0, bytes.NewReader(b), int64(len(b)), sum); err != nil {
		t.Fatal(err)
	}
	obj, err := ev.Commit(ctx, id, sum, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestHoldsOnBothBackends(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name string
		open func(t *testing.T) evidence.Store
		want custody.Enforcement
	}{
		{"fs", func(t *testing.T) evidence.Store {
			f, err := evidence.OpenFS(t.TempDir(), quiet)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, custody.ByApplication},
		{"s3", func(t *testing.T) evidence.Store { return s3test.Start(t).Open(t, evidence.S3Opts{}) }, custody.ByObjectStore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ev := tc.open(t)
			st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"), &store.Opts{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			obj := commit(t, ev, []byte("footage tied to a complaint"))
			h := custody.Holds{Store: st, Evidence: ev}
			held := func() bool {
				s3, ok := ev.(*evidence.S3)
				if !ok {
					hs, err := st.Holds(ctx, obj.ID)
					if err != nil {
						t.Fatal(err)
					}
					return len(hs) > 0 && hs[len(hs)-1].Held
				}
				l, err := s3.Lock(ctx, obj.Ref())
				if err != nil {
					t.Fatal(err)
				}
				return l.LegalHold
			}
			if _, err := h.Set(ctx, store.Actor{Name: "li", Role: "auxiliary"}, obj.Ref(), "complaint"); !errors.Is(err, store.ErrNotPermitted) || held() {
				t.Fatalf("an auxiliary's hold: %v, held %v", err, held())
			}
			sup := store.Actor{Name: "chief-wang", Role: "supervisor"}
			if _, err := h.Set(ctx, sup, obj.ID, ""); !errors.Is(err, store.ErrArgument) || held() {
				t.Fatalf("a hold without a reason: %v, held %v", err, held())
			}
			how, err := h.Set(ctx, sup, obj.ID, "complaint 2026-17")
			if err != nil || how != tc.want || !held() {
				t.Fatalf("Set: %s %v, held %v", how, err, held())
			}
			if _, err := h.Lift(ctx, sup, obj.Ref(), "complaint closed"); err != nil || held() {
				t.Fatalf("Lift: %v, held %v", err, held())
			}
			hs, err := st.Holds(ctx, obj.ID)
			if err != nil || len(hs) != 2 || hs[0].Reason != "complaint 2026-17" || hs[1].By != sup {
				t.Fatalf("history %+v %v", hs, err)
			}
		})
	}
}
