package dock_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/agent/firmware"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// A dock configured with a firmware campaign offloads a recorder, then
// installs the image on one recorder (rolled back on the other, whose new
// image fails to boot), and the collector stores each result.
func TestFirmwareCampaignEndToEnd(t *testing.T) {
	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dockID := "fw-" + randHex(4)
	var recs []*recsim.Recorder
	for i, faults := range [][]recsim.Fault{nil, {{Kind: recsim.FaultFwBootFail}}} {
		r, err := recsim.Generate(uint64(300+i), &recsim.GenOpts{Segments: 2, MinSize: 64 << 10, MaxSize: 128 << 10,
			Start: time.Now().Add(-3 * time.Hour)}, &recsim.Config{Serial: dockID + "-R" + string(rune('0'+i)), Faults: faults})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	dir := t.TempDir()
	img := make([]byte, 400<<10)
	for i := range img {
		img[i] = byte(i*31 + i>>8)
	}
	mb, _ := json.Marshal(firmware.NewManifest(recsim.VendorKey(), "recsim", "2.5.0", img))
	imgPath, manPath := filepath.Join(dir, "fw.bin"), filepath.Join(dir, "fw.json")
	if err := os.WriteFile(imgPath, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manPath, mb, 0o644); err != nil {
		t.Fatal(err)
	}
	vendor := base64.StdEncoding.EncodeToString(recsim.VendorKey().Public().(ed25519.PublicKey))
	w, err := testworld.Start(context.Background(), testworld.Config{Dir: t.TempDir(), Log: log, DockID: dockID, Unit: "unit-fw",
		Version: "e2e", Recorders: recs,
		Dock: func(c *dock.Config) {
			c.Firmware = firmware.Config{VendorKey: vendor, Campaigns: []firmware.CampaignConfig{
				{ID: "recsim-2.5.0", Image: imgPath, Manifest: manPath}}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := w.DockAll(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := map[string]string{recs[0].Serial(): wire.FwInstalled, recs[1].Serial(): wire.FwRolledBack}
	var got []store.FirmwareRecorder
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err = w.Col.Store().FirmwareProgress(ctx, "recsim-2.5.0")
		if err != nil {
			t.Fatal(err)
		}
		done := len(got) == len(want)
		for _, g := range got {
			done = done && g.State == want[g.Serial]
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector holds %+v, want %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := w.WaitSettled(ctx, 60*time.Second, 0); err != nil {
		t.Fatal(err)
	}
	tally, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !tally.Zero() || tally.Released != tally.Segments || tally.Segments != 4 {
		t.Errorf("evidence after the update: %v", tally)
	}
	if st := recs[0].FirmwareStatus(); st.Running != "2.5.0" || recs[0].Reboots() != 1 {
		t.Errorf("%s: %+v, %d reboots", recs[0].Serial(), st, recs[0].Reboots())
	}
	if st := recs[1].FirmwareStatus(); st.Running == "2.5.0" || st.Result.String() != wire.FwRolledBack || recs[1].Reboots() != 1 {
		t.Errorf("%s: %+v, %d reboots", recs[1].Serial(), st, recs[1].Reboots())
	}
	// Each recorder docked once: the session after its reboot found the
	// same recorder, unchanged, and continued the docking, so the
	// collector holds one docking (one health snapshot, its inventory
	// listed and complete) with the firmware install in it, and its
	// latest snapshot (the devices table) names what runs now.
	devs, err := w.Col.Store().Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	running := map[string]string{}
	for _, d := range devs {
		running[d.Serial] = d.Firmware
	}
	for i, rec := range recs {
		hist, err := w.Col.Store().DeviceHealth(ctx, rec.Serial(), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		sum, ok, err := w.Col.Store().Dockings(ctx, rec.Serial())
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 1 || !ok || !sum.Latest.Equal(hist[0].Health.DockedAt) || !sum.Listed || !sum.Complete {
			t.Errorf("%s: %d health snapshots (one per docking), docking summary %+v (%v)", rec.Serial(), len(hist), sum, ok)
		}
		if want := rec.FirmwareStatus().Running; running[rec.Serial()] != want || (i == 0) != (want == "2.5.0") {
			t.Errorf("%s: the collector says it runs %q, it runs %q", rec.Serial(), running[rec.Serial()], want)
		}
	}
}

// A campaign created at the collector reaches the dock (fetch: list and
// image over the upload endpoint), which installs it on the pilot recorder
// only; the collector stores the result.
func TestFirmwareCampaignFromCollector(t *testing.T) {
	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dockID := "fwc-" + randHex(4)
	var recs []*recsim.Recorder
	for i := range 2 {
		r, err := recsim.Generate(uint64(400+i), &recsim.GenOpts{Segments: 1, MinSize: 64 << 10, MaxSize: 64 << 10,
			Start: time.Now().Add(-3 * time.Hour)}, &recsim.Config{Serial: dockID + "-R" + string(rune('0'+i))})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	dir := t.TempDir()
	img := make([]byte, 300<<10)
	for i := range img {
		img[i] = byte(i * 13)
	}
	m := firmware.NewManifest(recsim.VendorKey(), "recsim", "2.6.0", img)
	imgPath := filepath.Join(dir, "fw.bin")
	if err := os.WriteFile(imgPath, img, 0o644); err != nil {
		t.Fatal(err)
	}
	vendor := base64.StdEncoding.EncodeToString(recsim.VendorKey().Public().(ed25519.PublicKey))
	w, err := testworld.Start(context.Background(), testworld.Config{Dir: t.TempDir(), Log: log, DockID: dockID, Unit: "unit-fw",
		Version: "e2e", Recorders: recs,
		Dock: func(c *dock.Config) {
			c.Firmware = firmware.Config{VendorKey: vendor, Fetch: true, FetchEvery: 100 * time.Millisecond}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	ctx := context.Background()
	if err := w.Col.Store().CreateFirmwareCampaign(ctx, store.FirmwareCampaign{ID: "recsim-2.6.0", Model: m.Model, Version: m.Version,
		Size: int64(m.Size), SHA256: m.SHA256, Signature: m.Signature, Image: imgPath, Pilot: []string{recs[0].Serial()},
		CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	fetched := filepath.Join(w.DockCfg.DataDir, "firmware", m.SHA256+".bin")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(fetched); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dock never fetched the campaign's image")
		}
	}
	time.Sleep(300 * time.Millisecond) // the fetcher hands the campaign to the updater right after the file lands
	if err := w.DockAll(); err != nil {
		t.Fatal(err)
	}
	var got []store.FirmwareRecorder
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if got, err = w.Col.Store().FirmwareProgress(ctx, "recsim-2.6.0"); err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 && got[len(got)-1].State == wire.FwInstalled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector holds %+v", got)
		}
	}
	if err := w.WaitSettled(ctx, 60*time.Second, 0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Serial != recs[0].Serial() || recs[0].FirmwareStatus().Running != "2.6.0" {
		t.Fatalf("progress %+v, %s runs %s", got, recs[0].Serial(), recs[0].FirmwareStatus().Running)
	}
	if recs[1].Reboots() != 0 || recs[1].FirmwareStatus().Running == "2.6.0" {
		t.Fatalf("%s is not in the pilot but was updated", recs[1].Serial())
	}
}
