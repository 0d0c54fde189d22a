package firmware

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

func writeImage(t *testing.T, vendor ed25519.PrivateKey, model, version string, size int) (img, man string) {
	t.Helper()
	b := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(size), 1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	dir := t.TempDir()
	img, man = filepath.Join(dir, "fw.bin"), filepath.Join(dir, "fw.json")
	mb, _ := json.Marshal(NewManifest(vendor, model, version, b))
	if err := os.WriteFile(img, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(man, mb, 0o644); err != nil {
		t.Fatal(err)
	}
	return img, man
}

func vendorPub() ed25519.PublicKey { return recsim.VendorKey().Public().(ed25519.PublicKey) }

func TestLoadImageChecks(t *testing.T) {
	img, man := writeImage(t, recsim.VendorKey(), "recsim", "2.5.0", 5000)
	im, err := LoadImage(img, man, vendorPub())
	if err != nil || im.Offer.Version != "2.5.0" || im.Offer.Size != 5000 {
		t.Fatalf("%+v %v", im, err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	if _, err := LoadImage(img, man, other.Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other vendor key: %v", err)
	}
	b, _ := os.ReadFile(img)
	b[10] ^= 1
	os.WriteFile(img, b, 0o644)
	if _, err := LoadImage(img, man, vendorPub()); !errors.Is(err, ErrImage) {
		t.Fatalf("altered image: %v", err)
	}
	var m Manifest
	mb, _ := os.ReadFile(man)
	json.Unmarshal(mb, &m)
	m.Version = "2.6.0"
	mb, _ = json.Marshal(m)
	os.WriteFile(man, mb, 0o644)
	if _, err := LoadImage(img, man, vendorPub()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("edited manifest: %v", err)
	}
	os.WriteFile(man, []byte("{"), 0o644)
	if _, err := LoadImage(img, man, vendorPub()); !errors.Is(err, ErrManifest) {
		t.Fatalf("broken manifest: %v", err)
	}
}

// dock plays the slot's loop: a session per link, Step after the copy, a
// new session when the link was lost.
type dock struct {
	t   *testing.T
	rec *recsim.Recorder
	u   *Updater

	mu      sync.Mutex
	reports []wire.FirmwareProgress
}

func newDock(t *testing.T, rec *recsim.Recorder, camp *Campaign) *dock {
	d := &dock{t: t, rec: rec}
	d.u = &Updater{Report: func(p wire.FirmwareProgress) {
		if err := p.Validate(); err != nil {
			t.Errorf("invalid report %+v: %v", p, err)
		}
		d.mu.Lock()
		d.reports = append(d.reports, p)
		d.mu.Unlock()
	}}
	d.u.SetCampaigns([]*Campaign{camp})
	return d
}

// session runs one link: hello, authenticate, Step.
func (d *dock) session(ctx context.Context) (bool, error) {
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() { defer close(done); _ = d.rec.ServeConn(ctx, b) }()
	defer func() { a.Close(); <-done }()
	c := docklink.NewClient(a, &docklink.ClientOpts{DockID: "dock-t", RequestTimeout: 5 * time.Second})
	defer c.Close()
	if _, err := c.Hello(ctx); err != nil {
		return false, err
	}
	info, err := c.Authenticate(ctx, docklink.Keys{d.rec.Serial(): d.rec.PublicKey()})
	if err != nil {
		return false, err
	}
	return d.u.Step(ctx, 3, c, info)
}

func (d *dock) states() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, p := range d.reports {
		if len(out) == 0 || out[len(out)-1] != p.State {
			out = append(out, p.State)
		}
	}
	return out
}

func (d *dock) last() wire.FirmwareProgress {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reports[len(d.reports)-1]
}

func gen(t *testing.T, faults ...recsim.Fault) *recsim.Recorder {
	r, err := recsim.Generate(5, &recsim.GenOpts{Segments: 1, MinSize: 100, MaxSize: 200}, &recsim.Config{Rate: recsim.Unlimited, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func campaign(t *testing.T, version string, serials ...string) *Campaign {
	img, man := writeImage(t, recsim.VendorKey(), "recsim", version, 600<<10)
	im, err := LoadImage(img, man, vendorPub())
	if err != nil {
		t.Fatal(err)
	}
	return &Campaign{ID: "camp-1", Image: im, Serials: serials}
}

func TestStepInstallsThenReports(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := gen(t)
	d := newDock(t, rec, campaign(t, "2.5.0"))
	reboot, err := d.session(ctx)
	if err != nil || !reboot {
		t.Fatalf("first session: reboot %v, %v", reboot, err)
	}
	if reboot, err = d.session(ctx); err != nil || reboot {
		t.Fatalf("second session: reboot %v, %v", reboot, err)
	}
	if got := strings.Join(d.states(), ","); got != "transferring,rebooting,installed" {
		t.Fatalf("states %s", got)
	}
	if l := d.last(); l.Running != "2.5.0" || l.Held != l.Size {
		t.Fatalf("last report %+v", l)
	}
	n := len(d.reports)
	// Docked again: nothing to do, nothing offered.
	if _, err := d.session(ctx); err != nil || rec.Reboots() != 1 || len(d.reports) != n+1 {
		t.Fatalf("third session: %v, reboots %d, reports %d", err, rec.Reboots(), len(d.reports)-n)
	}
}

func TestStepResumesAfterPowerLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const cut = 200 << 10
	rec := gen(t, recsim.Fault{Kind: recsim.FaultFwPowerLoss, N: cut})
	d := newDock(t, rec, campaign(t, "2.5.0"))
	if reboot, err := d.session(ctx); !errors.Is(err, docklink.ErrLinkDown) || reboot {
		t.Fatalf("cut session: %v %v", reboot, err)
	}
	d.mu.Lock()
	d.reports = nil
	d.mu.Unlock()
	if reboot, err := d.session(ctx); err != nil || !reboot {
		t.Fatalf("resumed session: %v %v", reboot, err)
	}
	d.mu.Lock()
	first := d.reports[0]
	d.mu.Unlock()
	if first.State != wire.FwTransferring || first.Held != cut {
		t.Fatalf("resume started at %+v, want held %d", first, cut)
	}
	d.session(ctx)
	if l := d.last(); l.State != wire.FwInstalled {
		t.Fatalf("after resume: %+v", l)
	}
}

func TestStepRollbackIsNotRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := gen(t, recsim.Fault{Kind: recsim.FaultFwBootFail})
	d := newDock(t, rec, campaign(t, "2.5.0"))
	for range 3 {
		if _, err := d.session(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(d.states(), ","); got != "transferring,rebooting,rolled-back" {
		t.Fatalf("states %s", got)
	}
	if l := d.last(); l.Running == "2.5.0" || l.Detail == "" || rec.Reboots() != 1 {
		t.Fatalf("last %+v, reboots %d", l, rec.Reboots())
	}
}

func TestStepRefusedAndUntargeted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := gen(t, recsim.Fault{Kind: recsim.FaultFwVendorKey})
	d := newDock(t, rec, campaign(t, "2.5.0"))
	if reboot, err := d.session(ctx); err != nil || reboot {
		t.Fatal(reboot, err)
	}
	if l := d.last(); l.State != wire.FwRefused || !strings.Contains(l.Detail, "BAD_SIGNATURE") {
		t.Fatalf("%+v", l)
	}
	rec2 := gen(t)
	d2 := newDock(t, rec2, campaign(t, "2.5.0", "someone-else"))
	if reboot, err := d2.session(ctx); err != nil || reboot || len(d2.reports) != 0 {
		t.Fatalf("untargeted recorder: %v %v %+v", reboot, err, d2.reports)
	}
}
