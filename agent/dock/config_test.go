package dock

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
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

// The shipped Pi config parses once its key is filled in, with its battery
// models; a battery model out of range is refused.
func TestDeployPiConfigBatteries(t *testing.T) {
	b, err := os.ReadFile("../../deploy/pi/dockd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = "REPLACE-WITH-THE-COLLECTOR'S-BASE64-ED25519-PUBLIC-KEY="
	if !bytes.Contains(b, []byte(placeholder)) {
		t.Fatal("deploy/pi/dockd.yaml lost its public_key placeholder (update this test)")
	}
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(placeholder), []byte(base64.StdEncoding.EncodeToString(pub)), 1)
	path := filepath.Join(t.TempDir(), "dockd.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Batteries["BWC-9"]; m.DesignMilliAmpHours != 3000 || m.Efficiency != 0.85 {
		t.Fatalf("batteries %+v", c.Batteries)
	}
	bad := bytes.Replace(b, []byte("efficiency: 0.85"), []byte("efficiency: 85"), 1)
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "batteries.BWC-9") {
		t.Fatalf("efficiency 85 accepted: %v", err)
	}
}

// The shipped dockd.yaml's commented mass_storage example, uncommented,
// parses; a policy or time zone that does not exist is refused.
func TestDeployPiConfigMassStorage(t *testing.T) {
	b, err := os.ReadFile("../../deploy/pi/dockd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("REPLACE-WITH-THE-COLLECTOR'S-BASE64-ED25519-PUBLIC-KEY="), []byte(base64.StdEncoding.EncodeToString(pub)), 1)
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "# mass_storage:":
			in, line = true, "mass_storage:"
		case in && strings.HasPrefix(line, "#   "):
			line = strings.TrimPrefix(line, "# ")
		default:
			in = false
		}
		out = append(out, line)
	}
	cfg := strings.Join(out, "\n")
	if !strings.Contains(cfg, "\nmass_storage:\n  release: keep") {
		t.Fatal("deploy/pi/dockd.yaml lost its mass_storage example (update this test)")
	}
	path := filepath.Join(t.TempDir(), "dockd.yaml")
	load := func(s string) (*Config, error) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return LoadConfig(path)
	}
	c, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m := c.MassStorage; m.Release != "keep" || m.IdentityFile != "DEVICE.TXT" || m.TimeZone != "Asia/Shanghai" ||
		m.MountDir != "/run/berth/media" || m.Wait.Seconds() != 20 {
		t.Fatalf("mass_storage %+v", m)
	}
	for bad, want := range map[string]string{
		"release: keep":               "mass_storage.release",
		"time_zone: Asia/Shanghai":    "mass_storage.time_zone",
		"mount_dir: /run/berth/media": "mass_storage.mount_dir",
	} {
		wrong := map[string]string{"release: keep": "release: shred", "time_zone: Asia/Shanghai": "time_zone: Mars/Olympus",
			"mount_dir: /run/berth/media": "mount_dir: media"}[bad]
		if _, err := load(strings.Replace(cfg, bad, wrong, 1)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s accepted: %v", wrong, err)
		}
	}
}
