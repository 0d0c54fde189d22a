package custody_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/evidence/s3test"
	"github.com/berthdock/berth/cloud/store"
)

const year = 365 * 24 * time.Hour

func TestRetentionFor(t *testing.T) {
	p := custody.Retention{Default: 2 * year, Units: map[string]time.Duration{"traffic": 3 * year},
		CaseTypes: map[string]time.Duration{"complaint": 5 * year, "lawsuit": 30 * year}}
	for _, tc := range []struct {
		unit  string
		types []string
		want  time.Duration
	}{
		{"patrol", nil, 2 * year},
		{"traffic", nil, 3 * year},
		{"traffic", []string{"complaint"}, 5 * year},
		{"patrol", []string{"complaint", "lawsuit", ""}, 30 * year},
	} {
		if got := p.For(tc.unit, tc.types...); got != tc.want {
			t.Errorf("For(%s, %v) = %s, want %s", tc.unit, tc.types, got, tc.want)
		}
	}
	if got := (custody.Retention{Default: time.Hour}).For("x"); got != evidence.MinRetention {
		t.Errorf("a policy under a year: %s", got)
	}
}

// Linking footage to a lawsuit extends its retention; on S3 the server
// holds the new date.
func TestLinkExtendsRetention(t *testing.T) {
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
			_, key, _ := ed25519.GenerateKey(rand.Reader)
			r := segment(t, st, ev, key, 1, []byte("footage of a disputed stop"))
			k := custody.Linker{Store: st, Evidence: ev, Policy: custody.Retention{CaseTypes: map[string]time.Duration{"lawsuit": 30 * year}}}
			until, how, err := k.Link(ctx, store.CaseLink{Serial: "R1", Seq: 1, Case: "2026-civ-17", Type: "lawsuit", Party: "Zhang San",
				By: store.Actor{Name: "chief-wang", Role: "supervisor"}, Reason: "lawsuit filed"})
			if err != nil || how != tc.want || until.Before(time.Now().Add(29*year)) {
				t.Fatalf("Link: until %s, %s, %v", until, how, err)
			}
			if s3, ok := ev.(*evidence.S3); ok {
				l, err := s3.Lock(ctx, r.ObjectID)
				if err != nil || l.RetainUntil.Before(until.Add(-time.Second)) {
					t.Fatalf("lock %+v %v: want retained until %s", l, err, until)
				}
			}
		})
	}
}
