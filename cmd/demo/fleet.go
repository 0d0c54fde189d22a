package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
	"github.com/berthdock/berth/firmware-protocol/recsim/fixtures"
)

// take is one recording of a demo recorder: which fixture clip it uses,
// how long after the previous one ended it starts, and why it stopped.
type take struct {
	clip  int // fixture seq 1..6
	after time.Duration
	stop  string
}

// officerPlan is one recorder of the demo's shift and what it shows.
type officerPlan struct {
	serial, officer, firmware string
	shows                     string // what this recorder demonstrates
	ago                       time.Duration
	takes                     []take
	cfg                       recsim.Config
	enrolled                  bool
}

// The fixture clips: 1 opening announcement, 2 noise, 3 noise, 4 spoken
// reason at the start, 5 noise, 6 noise only (no reason).
func demoPlans(now time.Time) []officerPlan {
	worn := recsim.DefaultBattery
	worn.HealthPercent, worn.Cycles = 71, 913
	return []officerPlan{
		{serial: "BWC-0101", officer: "010234", firmware: "2.4.1", ago: 3 * time.Hour, enrolled: true,
			shows: "auto split; low battery then resumed WITH the spoken reason; fault then resumed WITHOUT it",
			takes: []take{{1, 0, "auto-split"}, {2, 0, "low-battery"}, {4, 90 * time.Second, "fault"}, {6, 40 * time.Second, "user"}}},
		{serial: "BWC-0102", officer: "010311", firmware: "2.4.1", ago: 4 * time.Hour, enrolled: true,
			shows: "a recorder lying about one segment's hash (never released); worn battery (71 % health)",
			takes: []take{{1, 0, "auto-split"}, {2, 0, "user"}, {5, 25 * time.Minute, "user"}},
			cfg:   recsim.Config{Battery: worn, Faults: []recsim.Fault{{Kind: recsim.FaultWrongHash, N: 2}}}},
		{serial: "BWC-0103", officer: "010422", firmware: "2.4.1", ago: 2 * time.Hour, enrolled: true,
			shows: "a missing sequence number (lost footage: nothing released); clock 95 s fast; pulled mid-copy once",
			takes: []take{{1, 0, "user"}, {3, 20 * time.Minute, "user"}, {5, 15 * time.Minute, "user"}, {2, 10 * time.Minute, "user"}},
			cfg: recsim.Config{ClockOffset: 95 * time.Second, Faults: []recsim.Fault{{Kind: recsim.FaultMissingSeq, N: 3},
				{Kind: recsim.FaultDisconnect, N: 150_000}}}},
		{serial: "BWC-0104", officer: "010507", firmware: "2.2.0", ago: 30 * time.Hour, enrolled: true,
			shows: "out 30 h (late upload); stopped by a fault and never resumed; old firmware",
			takes: []take{{1, 0, "user"}, {3, time.Hour, "fault"}}},
		{serial: "BWC-0999", officer: "019999", firmware: "2.4.1", ago: time.Hour, enrolled: false,
			shows: "a recorder this dock does not know: refused, its footage left alone",
			takes: []take{{1, 0, "user"}}},
	}
}

// buildRecorder writes a recorder directory for p under dir from the
// embedded fixture clips, with times placed before now. Each copy of a clip
// gets a trailing MP4 'free' box naming the recorder and sequence number, so
// every recording is distinct evidence with its own hash while staying a
// valid MP4.
func buildRecorder(dir string, p officerPlan, now time.Time) (*recsim.Recorder, error) {
	raw, err := fs.ReadFile(fixtures.Recorder, path.Join(fixtures.RecorderDir, recsim.ManifestFile))
	if err != nil {
		return nil, err
	}
	fx, err := recsim.ParseManifest(raw)
	if err != nil {
		return nil, err
	}
	clips := map[uint64]recsim.ManifestSegment{}
	for _, s := range fx.Segments {
		clips[s.Seq] = s
	}
	rdir := filepath.Join(dir, p.serial)
	if err := os.MkdirAll(rdir, 0o750); err != nil {
		return nil, err
	}
	m := recsim.Manifest{Serial: p.serial, Model: "BWC-7 (recsim)", Firmware: p.firmware, HWRevision: "C", Officer: p.officer}
	// Lay the takes out backwards from the shift's end.
	var total time.Duration
	for _, t := range p.takes {
		c := clips[uint64(t.clip)]
		total += t.after + c.End.Sub(c.Start)
	}
	at := now.Add(-p.ago).Add(-total).Truncate(time.Second)
	for i, t := range p.takes {
		c, ok := clips[uint64(t.clip)]
		if !ok {
			return nil, fmt.Errorf("demo: no fixture clip %d", t.clip)
		}
		body, err := fs.ReadFile(fixtures.Recorder, path.Join(fixtures.RecorderDir, c.File))
		if err != nil {
			return nil, err
		}
		seq := uint64(i + 1)
		tag := fmt.Sprintf("berth demo: %s seq %d", p.serial, seq)
		free := make([]byte, 8, 8+len(tag))
		binary.BigEndian.PutUint32(free, uint32(8+len(tag)))
		copy(free[4:], "free")
		body = append(append(body, free...), tag...)
		name := fmt.Sprintf("%04d.mp4", seq)
		if err := os.WriteFile(filepath.Join(rdir, name), body, 0o640); err != nil {
			return nil, err
		}
		at = at.Add(t.after)
		size := uint64(len(body))
		sum := sha256.Sum256(body)
		end := at.Add(c.End.Sub(c.Start))
		m.Segments = append(m.Segments, recsim.ManifestSegment{Seq: seq, File: name, Start: at, End: end, StopCause: t.stop,
			Officer: p.officer, CaseTag: "A-" + now.Format("20060102") + "-031", Media: c.Media, Size: &size, SHA256: hex.EncodeToString(sum[:])})
		at = end
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(rdir, recsim.ManifestFile), b, 0o640); err != nil {
		return nil, err
	}
	cfg := p.cfg
	cfg.StateDir = filepath.Join(dir, "state")
	return recsim.Load(rdir, &cfg)
}

// stopName is the §9.3 name of a stop cause, for the summary.
func stopName(c docklink.StopCause) string { return c.String() }
