package slot

import (
	"crypto/ed25519"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// TestContinues: a new session continues the docking only for the same
// recorder with nothing changed that the collector judges by: its
// sequence, its recording state, the segments it lists (each the one the
// buffer holds), and its clock where the docking left it.
func TestContinues(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	buf := newMemBuffer(key)
	held := docklink.Segment{Seq: 4, Size: 100, SHA256: [32]byte{4}}
	buf.meta[k("R1", 4)] = buffer.Meta{Serial: "R1", Seg: held, Manifest: wire.SegmentManifest{Serial: "R1", Seq: 4, Size: 100,
		SHA256: hex.EncodeToString(held.SHA256[:])}}
	buf.phase[k("R1", 4)] = buffer.PhaseBuffered
	s := New(Config{Index: 0, Dock: "dock-1"}, &hw{}, &power{}, buf, buf, &reports{}, slog.New(slog.DiscardHandler))

	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	prev := &continuation{serial: "R1", at: at, lastSeq: 4, clockSet: true, after: "a firmware reboot"}
	session := func() (*docking, wire.DeviceHealth) {
		return &docking{info: docklink.DeviceInfo{Serial: "R1"}, status: docklink.Status{LastSeq: 4}, segs: []docklink.Segment{held}},
			wire.DeviceHealth{Serial: "R1", ClockSet: true, ClockOffsetMs: 40_000} // the reboot lost the clock; set again
	}
	cases := []struct {
		name   string
		prev   func(*continuation)
		change func(*docking, *wire.DeviceHealth)
		why    string // "": continues
	}{
		{name: "unchanged", change: func(*docking, *wire.DeviceHealth) {}},
		{name: "released meanwhile", change: func(d *docking, _ *wire.DeviceHealth) { d.segs = nil }},
		{name: "another recorder", change: func(d *docking, _ *wire.DeviceHealth) { d.info.Serial = "R2" }, why: "another recorder"},
		{name: "a number assigned", change: func(d *docking, _ *wire.DeviceHealth) { d.status.LastSeq = 5 }, why: "last sequence number 5"},
		{name: "a listed segment grew", change: func(d *docking, _ *wire.DeviceHealth) {
			d.segs = []docklink.Segment{{Seq: 4, Size: 101, SHA256: held.SHA256}}
		}, why: "seq 4"},
		{name: "a listed segment is other footage", change: func(d *docking, _ *wire.DeviceHealth) {
			d.segs = []docklink.Segment{{Seq: 4, Size: 100, SHA256: [32]byte{9}}}
		}, why: "seq 4"},
		{name: "recording", change: func(d *docking, _ *wire.DeviceHealth) { d.status.Recording = docklink.RecordingActive }, why: "recording"},
		{name: "clock not set after the reboot", change: func(_ *docking, h *wire.DeviceHealth) { h.ClockSet = false }, why: "clock"},
		{name: "clock not set, within a second", change: func(_ *docking, h *wire.DeviceHealth) { h.ClockSet, h.ClockOffsetMs = false, 900 }},
		{name: "clock left where the collector believes it", prev: func(p *continuation) { p.clockSet, p.offsetMs = false, 5000 },
			change: func(_ *docking, h *wire.DeviceHealth) { h.ClockSet, h.ClockOffsetMs = false, 5400 }},
		{name: "clock set now, believed off", prev: func(p *continuation) { p.clockSet, p.offsetMs = false, 5000 },
			change: func(*docking, *wire.DeviceHealth) {}, why: "clock"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := *prev
			if tc.prev != nil {
				tc.prev(&p)
			}
			d, h := session()
			tc.change(d, &h)
			ok, why := s.continues(&p, d, h)
			if ok != (tc.why == "") || !strings.Contains(why, tc.why) {
				t.Errorf("continues %v (%q), want %v (%q)", ok, why, tc.why == "", tc.why)
			}
		})
	}
}
