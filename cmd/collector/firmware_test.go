package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/berthdock/berth/agent/firmware"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

func TestFirmwareCampaignCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	pub, vendor, _ := ed25519.GenerateKey(nil)
	vkey := base64.StdEncoding.EncodeToString(pub)
	img := bytes.Repeat([]byte("firmware"), 1000)
	mb, _ := json.Marshal(firmware.NewManifest(vendor, "R1", "2.5.0", img))
	imgPath, manPath := filepath.Join(dir, "fw.bin"), filepath.Join(dir, "fw.json")
	os.WriteFile(imgPath, img, 0o644)
	os.WriteFile(manPath, mb, 0o644)
	fw := func(code int, want string, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		got := run(ctx, append([]string{"firmware", "campaign"}, append(args, "--db", db)...), &out, &errb)
		if got != code || !strings.Contains(out.String(), want) {
			t.Fatalf("firmware campaign %v: code %d, want %d and %q\n%s%s", args, got, code, want, out.String(), errb.String())
		}
		return out.String()
	}
	create := []string{"create", "--id", "r1-2.5.0", "--image", imgPath, "--manifest", manPath, "--vendor-key", vkey, "--by", "custodian-1"}
	// No recorder of the model has docked: a percentage has nothing to pick from.
	fw(2, "", append(create, "--percent", "10")...)
	// A manifest the vendor key does not verify is refused.
	_, other, _ := ed25519.GenerateKey(nil)
	bad, _ := json.Marshal(firmware.NewManifest(other, "R1", "2.5.0", img))
	os.WriteFile(filepath.Join(dir, "bad.json"), bad, 0o644)
	fw(1, "", "create", "--id", "x", "--image", imgPath, "--manifest", filepath.Join(dir, "bad.json"), "--vendor-key", vkey,
		"--by", "c", "--serials", "R-1")
	fw(0, "2 pilot recorders: R-1, R-2", append(create, "--serials", "R-2,R-1")...)
	fw(0, "r1-2.5.0  R1     2.5.0    pilot", "list")

	// R-1 reports its result; R-2 has not docked yet.
	st, err := store.Open(ctx, db, &store.Opts{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	p := &wire.FirmwareProgress{Campaign: "r1-2.5.0", Serial: "R-1", Slot: 1, Model: "R1", Version: "2.5.0", Running: "2.5.0",
		State: wire.FwInstalled, Held: int64(len(img)), Size: int64(len(img)), At: time.Now()}
	env, _ := wire.NewEnvelope("fw-1", "dock-1", time.Now(), wire.TypeFirmware, p)
	if _, err := st.Commit(ctx, []store.Incoming{{Env: env, Body: p}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out := fw(0, "1 installed, 1 waiting to dock", "status", "r1-2.5.0")
	if !strings.Contains(out, "R-1     installed  2.5.0    100%") || !strings.Contains(out, "R-2     waiting") {
		t.Fatalf("status:\n%s", out)
	}

	// The docks' configuration for the pilot stage loads, with the
	// manifest the collector prints, and targets the pilot only.
	conf := fw(0, "serials:", "dock-config", "r1-2.5.0", "--vendor-key", vkey, "--dir", dir)
	man := fw(0, `"version": "2.5.0"`, "manifest", "r1-2.5.0")
	os.WriteFile(filepath.Join(dir, "r1-2.5.0.json"), []byte(man), 0o644)
	os.WriteFile(filepath.Join(dir, "r1-2.5.0.bin"), img, 0o644)
	var doc struct {
		Firmware firmware.Config `yaml:"firmware"`
	}
	if err := yaml.Unmarshal([]byte(conf), &doc); err != nil {
		t.Fatal(err)
	}
	cs, err := doc.Firmware.Load()
	if err != nil || len(cs) != 1 || strings.Join(cs[0].Serials, ",") != "R-1,R-2" || cs[0].Image.Offer.Version != "2.5.0" {
		t.Fatalf("dock config %+v %v\n%s", cs, err, conf)
	}
	fw(0, "every recorder of the model", "advance", "r1-2.5.0")
	fw(1, "", "advance", "r1-2.5.0")
	conf = fw(0, "stage all", "dock-config", "r1-2.5.0", "--vendor-key", vkey, "--dir", dir)
	if strings.Contains(conf, "serials") {
		t.Fatalf("advanced campaign still lists serials:\n%s", conf)
	}
}

func TestPilotShare(t *testing.T) {
	serials := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	if got := pilotShare("c1", serials, 10); len(got) != 1 {
		t.Fatalf("10%% of 10: %v", got)
	}
	if got := pilotShare("c1", serials, 25); len(got) != 3 {
		t.Fatalf("25%% of 10: %v", got)
	}
	if got := pilotShare("c1", serials, 100); len(got) != 10 {
		t.Fatalf("100%%: %v", got)
	}
	a, b := pilotShare("c1", serials, 30), pilotShare("c1", []string{"j", "i", "h", "g", "f", "e", "d", "c", "b", "a"}, 30)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("pilot depends on order: %v %v", a, b)
	}
}
