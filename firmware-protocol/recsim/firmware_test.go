package recsim_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/firmware-protocol/conformance"
	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// testImage is a pseudo-random image signed with the recsim vendor key.
func testImage(t testing.TB, model, version string, size int) ([]byte, docklink.FwOffer) {
	t.Helper()
	img := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	o := docklink.FwOffer{Model: model, Version: version, Size: uint64(size), SHA256: sum(img)}
	o.Signature = docklink.SignFirmware(recsim.VendorKey(), model, version, o.Size, o.SHA256)
	return img, o
}

func genRec(t testing.TB, faults ...recsim.Fault) *recsim.Recorder {
	t.Helper()
	return genRecIn(t, t.TempDir(), faults...)
}

func genRecIn(t testing.TB, dir string, faults ...recsim.Fault) *recsim.Recorder {
	t.Helper()
	r, err := recsim.Generate(3, &recsim.GenOpts{Segments: 1, MinSize: 1000, MaxSize: 2000},
		&recsim.Config{Rate: recsim.Unlimited, Faults: faults, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// install offers, writes from the ack's held and commits with reboot.
func install(ctx context.Context, c *docklink.Client, img []byte, o docklink.FwOffer) (held uint64, err error) {
	ack, err := c.OfferFirmware(ctx, o)
	if err != nil {
		return 0, err
	}
	held, err = c.WriteFirmware(ctx, bytes.NewReader(img), o.Size, ack.Held, ack.MaxWrite, nil)
	if err != nil {
		return held, err
	}
	if _, err = c.CommitFirmware(ctx, o.SHA256, true); err != nil {
		return held, err
	}
	select { // the recorder reboots after the ack: the link ends
	case <-c.Done():
		return held, nil
	case <-ctx.Done():
		return held, ctx.Err()
	}
}

func TestFirmwareUpdateInstalls(t *testing.T) {
	dir := t.TempDir()
	r := genRecIn(t, dir)
	srv := serve(t, []*recsim.Recorder{r}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := session(t, srv.Addr(0), keysOf(r))
	before, err := c.FirmwareStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	img, o := testImage(t, "recsim", "2.5.0", 700<<10)
	if _, err := install(ctx, c, img, o); err != nil {
		t.Fatal(err)
	}
	if r.Reboots() != 1 {
		t.Fatalf("reboots %d", r.Reboots())
	}
	// The reboot ended the link; a new session sees the new firmware.
	c2 := session(t, srv.Addr(0), keysOf(r))
	st, err := c2.FirmwareStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Running != "2.5.0" || st.Previous != before.Running || st.Result != docklink.FwResultInstalled || st.ResultVersion != "2.5.0" || st.Pending != "" {
		t.Fatalf("after install: %+v", st)
	}
	evs, err := c2.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-2]; last.Kind != docklink.EventFirmware || !strings.Contains(last.Detail, "installed 2.5.0") {
		t.Fatalf("events end with %+v", evs[len(evs)-2:])
	}
	if ack, _ := c2.Hello(ctx); ack.Info.Firmware != "2.5.0" {
		t.Fatalf("HELLO_ACK firmware %q", ack.Info.Firmware)
	}
	// The state file keeps it across a restart of the simulator.
	st2 := genRecIn(t, dir).FirmwareStatus()
	if st2.Running != "2.5.0" || st2.Result != docklink.FwResultInstalled {
		t.Fatalf("reloaded: %+v", st2)
	}
}

func TestFirmwarePowerLossResumes(t *testing.T) {
	const cut = 300 << 10
	r := genRec(t, recsim.Fault{Kind: recsim.FaultFwPowerLoss, N: cut})
	srv := serve(t, []*recsim.Recorder{r}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	img, o := testImage(t, "recsim", "2.5.0", 1<<20)
	c := session(t, srv.Addr(0), keysOf(r))
	held, err := install(ctx, c, img, o)
	if !errors.Is(err, docklink.ErrLinkDown) {
		t.Fatalf("first transfer: held %d, err %v; want the link to drop", held, err)
	}
	if held > cut {
		t.Fatalf("dock counted %d bytes acknowledged, power failed at %d", held, cut)
	}
	c2 := session(t, srv.Addr(0), keysOf(r))
	st, err := c2.FirmwareStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.StagedSHA256 != o.SHA256 || st.StagedHeld != cut {
		t.Fatalf("after the cut: staged %x held %d, want %d", st.StagedSHA256[:4], st.StagedHeld, cut)
	}
	ack, err := c2.OfferFirmware(ctx, o)
	if err != nil || ack.Held != cut {
		t.Fatalf("re-offer: %+v %v, want held %d", ack, err, cut)
	}
	var sent uint64
	got, err := c2.WriteFirmware(ctx, bytes.NewReader(img), o.Size, ack.Held, ack.MaxWrite, func(h uint64) { sent = h })
	if err != nil || got != o.Size || sent != o.Size {
		t.Fatalf("resume: %d %d %v", got, sent, err)
	}
	if _, err := c2.CommitFirmware(ctx, o.SHA256, true); err != nil {
		t.Fatal(err)
	}
	<-c2.Done()
	st, err = session(t, srv.Addr(0), keysOf(r)).FirmwareStatus(ctx)
	if err != nil || st.Running != "2.5.0" || st.Result != docklink.FwResultInstalled {
		t.Fatalf("after resume: %+v %v", st, err)
	}
}

func TestFirmwareBootFailRollsBack(t *testing.T) {
	r := genRec(t, recsim.Fault{Kind: recsim.FaultFwBootFail, Version: "2.5.0"})
	srv := serve(t, []*recsim.Recorder{r}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	img, o := testImage(t, "recsim", "2.5.0", 64<<10)
	c := session(t, srv.Addr(0), keysOf(r))
	before, _ := c.FirmwareStatus(ctx)
	if _, err := install(ctx, c, img, o); err != nil {
		t.Fatal(err)
	}
	st, err := session(t, srv.Addr(0), keysOf(r)).FirmwareStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Running != before.Running || st.Result != docklink.FwResultRolledBack || st.ResultVersion != "2.5.0" || st.Detail == "" {
		t.Fatalf("after a failed boot: %+v", st)
	}
	// Another version boots.
	img2, o2 := testImage(t, "recsim", "2.5.1", 64<<10+1)
	c3 := session(t, srv.Addr(0), keysOf(r))
	if _, err := install(ctx, c3, img2, o2); err != nil {
		t.Fatal(err)
	}
	st, _ = session(t, srv.Addr(0), keysOf(r)).FirmwareStatus(ctx)
	if st.Running != "2.5.1" || st.Result != docklink.FwResultInstalled {
		t.Fatalf("second image: %+v", st)
	}
}

func TestFirmwareRefusals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	img, o := testImage(t, "recsim", "2.5.0", 10_000)

	// A recorder trusting another vendor key refuses the image outright.
	r := genRec(t, recsim.Fault{Kind: recsim.FaultFwVendorKey})
	c := session(t, serve(t, []*recsim.Recorder{r}, nil).Addr(0), keysOf(r))
	if _, err := c.OfferFirmware(ctx, o); !docklink.IsCode(err, docklink.CodeBadSignature) {
		t.Fatalf("other vendor key: %v", err)
	}

	r = genRec(t)
	addr := serve(t, []*recsim.Recorder{r}, nil).Addr(0)
	c = session(t, addr, keysOf(r))
	tampered := o
	tampered.Version = "9.9.9"
	if _, err := c.OfferFirmware(ctx, tampered); !docklink.IsCode(err, docklink.CodeBadSignature) {
		t.Fatalf("tampered offer: %v", err)
	}
	other := o
	other.Model = "R2"
	other.Signature = docklink.SignFirmware(recsim.VendorKey(), "R2", o.Version, o.Size, o.SHA256)
	if _, err := c.OfferFirmware(ctx, other); !docklink.IsCode(err, docklink.CodeBadSignature) {
		t.Fatalf("other model: %v", err)
	}
	if _, err := c.Do(ctx, &docklink.FwWrite{Offset: 0, Bytes: img[:10]}); !docklink.IsCode(err, docklink.CodeNoOffer) {
		t.Fatalf("write before offer: %v", err)
	}
	ack, err := c.OfferFirmware(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, &docklink.FwWrite{Offset: 5, Bytes: img[:10]}); !docklink.IsCode(err, docklink.CodeOutOfRange) {
		t.Fatalf("write at a gap: %v", err)
	}
	if _, err := c.CommitFirmware(ctx, o.SHA256, false); !docklink.IsCode(err, docklink.CodeOutOfRange) {
		t.Fatalf("commit of a partial image: %v", err)
	}
	bad := bytes.Clone(img)
	bad[len(bad)/2] ^= 1
	if _, err := c.WriteFirmware(ctx, bytes.NewReader(bad), o.Size, ack.Held, ack.MaxWrite, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CommitFirmware(ctx, o.SHA256, true); !docklink.IsCode(err, docklink.CodeImageMismatch) {
		t.Fatalf("commit of altered bytes: %v", err)
	}
	st, err := c.FirmwareStatus(ctx)
	if err != nil || st.Result != docklink.FwResultRejected || st.StagedHeld != 0 || st.Pending != "" || r.Reboots() != 0 {
		t.Fatalf("after a rejected image: %+v %v (reboots %d)", st, err, r.Reboots())
	}
}

func TestFirmwareConformance(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []recsim.Fault
		result string
	}{
		{"installs", nil, "installed 2.5.0, running 2.5.0"},
		{"rolls back", []recsim.Fault{{Kind: recsim.FaultFwBootFail}}, "rolled-back 2.5.0, running 2.4.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := genRec(t, tc.faults...)
			srv := serve(t, []*recsim.Recorder{r}, nil)
			img, o := testImage(t, "recsim", "2.5.0", 200<<10)
			rep := runSuite(t, tcpDialer(srv.Addr(0)), &conformance.Opts{Keys: keysOf(r),
				Firmware: &conformance.Image{Offer: o, Bytes: img}, FirmwareInstall: true})
			if !rep.Passed() {
				t.Fatalf("failed: %+v", rep.Failed())
			}
			fw := 0
			for _, res := range rep.Results {
				if strings.HasPrefix(res.Rule, "§17") {
					fw++
					if res.Skip || !res.Pass {
						t.Errorf("%s %s: skip %v pass %v %s", res.Rule, res.Name, res.Skip, res.Pass, res.Detail)
					}
					if res.Rule == "§17.7" && res.Detail != tc.result {
						t.Errorf("install: %q, want %q", res.Detail, tc.result)
					}
				}
			}
			if fw != 5 {
				t.Fatalf("%d firmware checks ran", fw)
			}
		})
	}
}
