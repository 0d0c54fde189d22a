package recsim_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// FuzzParseManifest: any bytes give a manifest or ErrManifest, never a
// panic; an accepted manifest re-encodes to one that parses the same.
func FuzzParseManifest(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(fixtureDir, recsim.ManifestFile)); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"serial":"X","segments":[]}`))
	f.Add([]byte(`{"serial":"X","segments":[{"seq":1,"file":"a.mp4","start":"2026-11-24T08:00:00Z","end":"2026-11-24T08:00:10Z","stop_cause":"user","media":{}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := recsim.ParseManifest(b)
		if err != nil {
			if !errors.Is(err, recsim.ErrManifest) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := recsim.ParseManifest(out)
		if err != nil {
			t.Fatalf("re-encoded manifest refused: %v\n%s", err, out)
		}
		if len(m2.Segments) != len(m.Segments) || m2.Serial != m.Serial {
			t.Fatalf("round trip changed the manifest")
		}
	})
}

// FuzzParseFault: any string gives a fault or ErrFault; String parses back.
func FuzzParseFault(f *testing.F) {
	for _, s := range []string{"disconnect=4M", "corrupt-frame=3", "wrong-hash=2", "missing-seq=1", "dying-battery=5m", "auth", "x=y", "disconnect=18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ft, err := recsim.ParseFault(s)
		if err != nil {
			if !errors.Is(err, recsim.ErrFault) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := recsim.ParseFault(ft.String())
		if err != nil || again != ft {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, ft, ft.String(), again, err)
		}
	})
}
