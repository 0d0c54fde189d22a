package dock

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthdock/berth/drivers/board"
)

// The shipped rehearsal config, once the collector's key is pasted in as
// its README says, parses and names the shipped simulated board.
func TestDeploySimConfig(t *testing.T) {
	b, err := os.ReadFile("../../deploy/sim/dockd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = "PASTE-THE-PUBLIC-KEY-FROM-collector-enroll-dock="
	if !bytes.Contains(b, []byte(placeholder)) {
		t.Fatal("deploy/sim/dockd.yaml lost its public_key placeholder (update this test and the README)")
	}
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dockd.yaml")
	b = bytes.Replace(b, []byte(placeholder), []byte(base64.StdEncoding.EncodeToString(pub)), 1)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := board.Load(filepath.Join("../..", c.Board))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Kind != board.KindSim || len(spec.Slots) != 4 || c.MetricsAddr != "127.0.0.1:0" {
		t.Fatalf("board %s kind %v with %d slots, metrics %q", c.Board, spec.Kind, len(spec.Slots), c.MetricsAddr)
	}
}
