package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdock/berth/agent/firmware"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

func TestConformanceFirmwareInstall(t *testing.T) {
	r, srv := serveRecsim(t, nil)
	dir := t.TempDir()
	img := make([]byte, 100<<10)
	for i := range img {
		img[i] = byte(i * 3)
	}
	mb, _ := json.Marshal(firmware.NewManifest(recsim.VendorKey(), "recsim-fixture", "9.9.9", img))
	os.WriteFile(filepath.Join(dir, "fw.bin"), img, 0o644)
	os.WriteFile(filepath.Join(dir, "fw.json"), mb, 0o644)
	vendor := base64.StdEncoding.EncodeToString(recsim.VendorKey().Public().(ed25519.PublicKey))
	fw := []string{"--fw-image", filepath.Join(dir, "fw.bin"), "--fw-manifest", filepath.Join(dir, "fw.json"), "--fw-vendor-key", vendor}
	code, out, _ := conformanceRun(t, append([]string{"--addr", srv.Addr(0), "--key", r.PublicKeyBase64(), "--fw-install"}, fw...)...)
	if code != 0 || !strings.Contains(out, "installed 9.9.9, running 9.9.9") || strings.Contains(out, "§17.4  transfer resumed on a new link at the held offset reported by FW_OFFER_ACK  SKIP") {
		t.Fatalf("exit %d", code)
	}
	if r.FirmwareStatus().Running != "9.9.9" {
		t.Fatalf("recorder runs %s", r.FirmwareStatus().Running)
	}
	// A vendor key that does not verify the manifest is a usage error.
	_, other, _ := ed25519.GenerateKey(nil)
	fw[5] = base64.StdEncoding.EncodeToString(other.Public().(ed25519.PublicKey))
	if code, _, _ := conformanceRun(t, append([]string{"--addr", srv.Addr(0)}, fw...)...); code != 2 {
		t.Fatalf("wrong vendor key: exit %d", code)
	}
}
