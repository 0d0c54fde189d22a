package testworld

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

	"github.com/berthdock/berth/firmware-protocol/recsim"
	"github.com/berthdock/berth/firmware-protocol/recsim/fixtures"
)

// Take is one recording of a planned recorder: a committed fixture clip
// (1 opening announcement, 2 and 3 noise, 4 a spoken reason at its start,
// 5 noise, 6 noise only), how long after the previous recording ended it
// starts in true time (negative: it overlaps), and why it stopped.
type Take struct {
	Clip  int
	After time.Duration
	Stop  string
}

// Plan is a recorder built from fixture clips: its takes are laid out so
// that the last one ends Ago before now in true time; the recorder stamps
// them with its own clock (true time plus Config.ClockOffset).
type Plan struct {
	Serial, Officer, Firmware, CaseTag string
	Ago                                time.Duration
	Takes                              []Take
	Config                             recsim.Config
}

// Span is a segment's true (dock-clock) start and end as the plan laid it
// out.
type Span struct{ Start, End time.Time }

// Build writes the recorder directory for p under dir and loads it. Each
// copy of a clip gets a trailing MP4 'free' box naming the recorder and
// sequence number, so every segment is distinct evidence with its own hash
// while staying a valid MP4. It returns the true span of each segment by
// sequence number (1-based, as laid out; a FaultMissingSeq fault then
// hides one from the inventory).
func (p Plan) Build(dir string, now time.Time) (*recsim.Recorder, map[uint64]Span, error) {
	raw, err := fs.ReadFile(fixtures.Recorder, path.Join(fixtures.RecorderDir, recsim.ManifestFile))
	if err != nil {
		return nil, nil, err
	}
	fx, err := recsim.ParseManifest(raw)
	if err != nil {
		return nil, nil, err
	}
	clips := map[int]recsim.ManifestSegment{}
	for _, s := range fx.Segments {
		clips[int(s.Seq)] = s
	}
	rdir := filepath.Join(dir, p.Serial)
	if err := os.MkdirAll(rdir, 0o750); err != nil {
		return nil, nil, err
	}
	fw := p.Firmware
	if fw == "" {
		fw = "2.4.1"
	}
	m := recsim.Manifest{Serial: p.Serial, Model: "BWC-7 (recsim)", Firmware: fw, HWRevision: "C", Officer: p.Officer}
	var total time.Duration
	for _, t := range p.Takes {
		c, ok := clips[t.Clip]
		if !ok {
			return nil, nil, fmt.Errorf("testworld: no fixture clip %d", t.Clip)
		}
		total += t.After + c.End.Sub(c.Start)
	}
	spans := map[uint64]Span{}
	at := now.Add(-p.Ago).Add(-total).Truncate(time.Second)
	for i, t := range p.Takes {
		c := clips[t.Clip]
		body, err := fs.ReadFile(fixtures.Recorder, path.Join(fixtures.RecorderDir, c.File))
		if err != nil {
			return nil, nil, err
		}
		seq := uint64(i + 1)
		tag := fmt.Sprintf("berth test world: %s seq %d", p.Serial, seq)
		free := make([]byte, 8, 8+len(tag))
		binary.BigEndian.PutUint32(free, uint32(8+len(tag)))
		copy(free[4:], "free")
		body = append(append(body, free...), tag...)
		name := fmt.Sprintf("%04d.mp4", seq)
		if err := os.WriteFile(filepath.Join(rdir, name), body, 0o640); err != nil {
			return nil, nil, err
		}
		at = at.Add(t.After)
		end := at.Add(c.End.Sub(c.Start))
		spans[seq] = Span{at, end}
		size := uint64(len(body))
		sum := sha256.Sum256(body)
		off := p.Config.ClockOffset // the recorder stamps its footage with its own clock
		m.Segments = append(m.Segments, recsim.ManifestSegment{Seq: seq, File: name, Start: at.Add(off), End: end.Add(off),
			StopCause: t.Stop, Officer: p.Officer, CaseTag: p.CaseTag, Media: c.Media, Size: &size,
			SHA256: hex.EncodeToString(sum[:])})
		at = end
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(rdir, recsim.ManifestFile), b, 0o640); err != nil {
		return nil, nil, err
	}
	cfg := p.Config
	r, err := recsim.Load(rdir, &cfg)
	return r, spans, err
}
