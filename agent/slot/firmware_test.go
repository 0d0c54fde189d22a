package slot

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/firmware"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/chargesense"
	"github.com/berthdock/berth/drivers/led"
	"github.com/berthdock/berth/drivers/presence"
	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// recHW serves a recsim recorder: its reboots end the link like a USB
// re-enumeration.
type recHW struct {
	rec *recsim.Recorder
	wg  sync.WaitGroup
}

func (h *recHW) SetPattern(led.Pattern) error { return nil }
func (h *recHW) OpenLink(ctx context.Context) (io.ReadWriteCloser, error) {
	a, b := net.Pipe()
	h.wg.Go(func() { _ = h.rec.ServeConn(ctx, b) })
	return a, nil
}
func (h *recHW) Sense() (chargesense.Reading, error) { return chargesense.Reading{}, nil }
func (h *recHW) HasSensor() bool                     { return false }

// guardedStep checks, each time the slot runs the firmware step, that
// every segment of the recorder is already durable in the buffer.
type guardedStep struct {
	t     *testing.T
	buf   *memBuffer
	rec   *recsim.Recorder
	inner FirmwareStep
	mu    sync.Mutex
	calls int
}

func (g *guardedStep) Step(ctx context.Context, slot int, c *docklink.Client, info docklink.DeviceInfo) (bool, error) {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	for _, seg := range g.rec.Segments() {
		if k, _ := g.buf.Lookup(info.Serial, seg.Seq); k.Phase < buffer.PhaseBuffered || k.Phase == buffer.PhaseFaulty {
			g.t.Errorf("firmware step with seq %d in phase %d", seg.Seq, k.Phase)
		}
	}
	return g.inner.Step(ctx, slot, c, info)
}

func firmwareRig(t *testing.T, faults ...recsim.Fault) (*recsim.Recorder, *reports, *guardedStep, *[]wire.FirmwareProgress, *Slot, chan presence.Event) {
	t.Helper()
	rec, err := recsim.Generate(9, &recsim.GenOpts{Segments: 3, MinSize: 50 << 10, MaxSize: 100 << 10},
		&recsim.Config{Rate: recsim.Unlimited, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	img := make([]byte, 300<<10)
	for i := range img {
		img[i] = byte(i * 7)
	}
	dir := t.TempDir()
	mb, _ := json.Marshal(firmware.NewManifest(recsim.VendorKey(), "recsim", "2.5.0", img))
	os.WriteFile(filepath.Join(dir, "fw.bin"), img, 0o644)
	os.WriteFile(filepath.Join(dir, "fw.json"), mb, 0o644)
	im, err := firmware.LoadImage(filepath.Join(dir, "fw.bin"), filepath.Join(dir, "fw.json"), recsim.VendorKey().Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	progress := &[]wire.FirmwareProgress{}
	u := &firmware.Updater{Report: func(p wire.FirmwareProgress) {
		mu.Lock()
		*progress = append(*progress, p)
		mu.Unlock()
	}}
	u.SetCampaigns([]*firmware.Campaign{{ID: "c1", Image: im}})
	_, collKey, _ := ed25519.GenerateKey(nil)
	buf := newMemBuffer(collKey)
	g := &guardedStep{t: t, buf: buf, rec: rec, inner: u}
	h := &recHW{rec: rec}
	rep := &reports{}
	s := New(Config{Index: 1, Dock: "dock-1", Keys: docklink.Keys{rec.Serial(): rec.PublicKey()}, StatusEvery: 20 * time.Millisecond, Firmware: g},
		h, &power{}, buf, buf, rep, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan presence.Event)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, events) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		h.wg.Wait()
	})
	return rec, rep, g, progress, s, events
}

func TestFirmwareAfterFootageIsSafe(t *testing.T) {
	rec, rep, g, _, s, events := firmwareRig(t)
	events <- presence.Event{Present: true, At: time.Now()}
	r := &rig{slot: s}
	st := r.waitState(t, wire.SlotReleased)
	if st.Released != 3 {
		t.Fatalf("state %+v", st)
	}
	// One docking: the session after the reboot re-identified the same
	// recorder, unchanged, and reported under the same docked_at, with
	// the new firmware in its health snapshot.
	rep.mu.Lock()
	health, dockings := slices.Clone(rep.health), slices.Clone(rep.dockings)
	rep.mu.Unlock()
	if len(health) != 2 || health[1].Firmware != "2.5.0" {
		t.Fatalf("health snapshots %+v", health)
	}
	for _, h := range health {
		if !h.DockedAt.Equal(health[0].DockedAt) {
			t.Errorf("health docked at %s and %s: two dockings", health[0].DockedAt, h.DockedAt)
		}
	}
	for _, d := range dockings {
		if !d.DockedAt.Equal(health[0].DockedAt) {
			t.Errorf("docking %s reported at %s, health at %s", d.Phase, d.DockedAt, health[0].DockedAt)
		}
	}
	if rec.Reboots() != 1 || rec.FirmwareStatus().Running != "2.5.0" {
		t.Fatalf("reboots %d, firmware %+v", rec.Reboots(), rec.FirmwareStatus())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.calls != 2 { // the update, then the session after the reboot reporting it
		t.Fatalf("%d firmware steps", g.calls)
	}
}

func TestFirmwareWithheldWhenFootageIsNotSafe(t *testing.T) {
	rec, _, g, progress, s, events := firmwareRig(t, recsim.Fault{Kind: recsim.FaultWrongHash, N: 2})
	events <- presence.Event{Present: true, At: time.Now()}
	r := &rig{slot: s}
	r.waitState(t, wire.SlotFault)
	time.Sleep(200 * time.Millisecond) // the slot would have run the step by now
	g.mu.Lock()
	calls := g.calls
	g.mu.Unlock()
	if calls != 0 || rec.Reboots() != 0 || len(*progress) != 0 {
		t.Fatalf("firmware step ran with a faulty segment: calls %d, reboots %d", calls, rec.Reboots())
	}
	if !slices.ContainsFunc(rec.Segments(), func(s docklink.Segment) bool { return s.Seq == 2 }) {
		t.Fatal("seq 2 gone")
	}
}
