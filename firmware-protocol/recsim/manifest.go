package recsim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// ManifestFile is the name of the metadata file in a recorder directory.
const ManifestFile = "manifest.json"

// MaxManifestSize bounds manifest.json, checked before it is read whole.
const MaxManifestSize = 4 << 20

// ErrManifest wraps every problem with a recorder directory's manifest or
// footage files: malformed JSON, a bad field, a file outside the
// directory, a size or SHA-256 that differs from the file.
var ErrManifest = errors.New("recsim: bad manifest")

// Manifest is manifest.json: the recorder's identity and its segments.
// Identity fields are defaults that Config overrides.
type Manifest struct {
	Serial     string            `json:"serial"`
	Model      string            `json:"model,omitempty"`
	Firmware   string            `json:"firmware,omitempty"`
	HWRevision string            `json:"hw_revision,omitempty"`
	Officer    string            `json:"officer,omitempty"`
	LastSeq    uint64            `json:"last_seq,omitempty"` // highest seq ever assigned, if above the last listed (footage lost at the end)
	Segments   []ManifestSegment `json:"segments"`
	Events     []ManifestEvent   `json:"events,omitempty"` // the event log; synthesised from the segments if empty
}

// ManifestSegment is one segment's metadata (§9.3) and its file.
type ManifestSegment struct {
	Seq       uint64        `json:"seq"`
	File      string        `json:"file"` // relative to the directory
	Start     time.Time     `json:"start"`
	End       time.Time     `json:"end"`
	StopCause string        `json:"stop_cause"` // §9.3 names: auto-split, user, low-battery, storage-full, fault, power-loss, unknown
	Officer   string        `json:"officer,omitempty"`
	CaseTag   string        `json:"case_tag,omitempty"`
	Media     ManifestMedia `json:"media"`
	Size      *uint64       `json:"size,omitempty"`   // checked against the file if given
	SHA256    string        `json:"sha256,omitempty"` // hex; checked against the file if given, computed if not
	Note      string        `json:"note,omitempty"`   // for people; recsim ignores it
}

// ManifestMedia is §9.4.
type ManifestMedia struct {
	Container       string `json:"container,omitempty"`
	VideoCodec      string `json:"video_codec,omitempty"`
	Width           uint16 `json:"width,omitempty"`
	Height          uint16 `json:"height,omitempty"`
	FrameRateMilli  uint32 `json:"frame_rate_milli,omitempty"`
	AudioCodec      string `json:"audio_codec,omitempty"`
	AudioSampleRate uint32 `json:"audio_sample_rate,omitempty"`
	AudioChannels   uint8  `json:"audio_channels,omitempty"`
}

// ManifestEvent is one event log entry (§10.3); Index is assigned in order.
type ManifestEvent struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // §10.3 names: power-on, record-start, low-battery, ...
	Seq    uint64    `json:"seq,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// ParseManifest decodes and validates manifest.json (without looking at
// the footage files). Unknown fields are refused, so a typo is an error
// rather than a silently missing value.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrManifest, len(b), MaxManifestSize)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrManifest)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	if m.Serial == "" || len(m.Serial) > docklink.MaxString {
		return fmt.Errorf("%w: serial must be 1..%d bytes", ErrManifest, docklink.MaxString)
	}
	var prev uint64
	for i, s := range m.Segments {
		at := fmt.Sprintf("segment %d (seq %d)", i, s.Seq)
		switch {
		case s.Seq == 0:
			return fmt.Errorf("%w: %s: seq 0 (§9.2: the first is 1)", ErrManifest, at)
		case s.Seq <= prev:
			return fmt.Errorf("%w: %s: seq not strictly ascending after %d", ErrManifest, at, prev)
		case !localFile(s.File):
			return fmt.Errorf("%w: %s: file %q is not a plain name inside the directory", ErrManifest, at, s.File)
		case s.Start.IsZero() || s.End.Before(s.Start):
			return fmt.Errorf("%w: %s: start %s, end %s", ErrManifest, at, s.Start, s.End)
		}
		if _, ok := stopCause(s.StopCause); !ok {
			return fmt.Errorf("%w: %s: stop_cause %q unknown", ErrManifest, at, s.StopCause)
		}
		if s.SHA256 != "" {
			if b, err := hex.DecodeString(s.SHA256); err != nil || len(b) != sha256.Size {
				return fmt.Errorf("%w: %s: sha256 %q is not 64 hex digits", ErrManifest, at, s.SHA256)
			}
		}
		for _, str := range []string{s.Officer, s.CaseTag, s.Media.Container, s.Media.VideoCodec, s.Media.AudioCodec} {
			if len(str) > docklink.MaxString {
				return fmt.Errorf("%w: %s: a string is longer than %d bytes", ErrManifest, at, docklink.MaxString)
			}
		}
		prev = s.Seq
	}
	if m.LastSeq != 0 && m.LastSeq < prev {
		return fmt.Errorf("%w: last_seq %d below the highest listed seq %d", ErrManifest, m.LastSeq, prev)
	}
	for i, e := range m.Events {
		if _, ok := eventKind(e.Kind); !ok {
			return fmt.Errorf("%w: event %d: kind %q unknown", ErrManifest, i, e.Kind)
		}
		if len(e.Detail) > docklink.MaxString {
			return fmt.Errorf("%w: event %d: detail longer than %d bytes", ErrManifest, i, docklink.MaxString)
		}
	}
	return nil
}

// localFile reports whether name is a plain file name (no directories, no
// way out of the recorder directory).
func localFile(name string) bool {
	return name != "" && name != "." && name != ".." && filepath.Base(name) == name && !strings.ContainsAny(name, `/\`) && filepath.IsLocal(name)
}

func stopCause(name string) (docklink.StopCause, bool) {
	for c := docklink.StopCause(0); c.Valid(); c++ {
		if c.String() == name {
			return c, true
		}
	}
	return 0, false
}

func eventKind(name string) (docklink.EventKind, bool) {
	for k := docklink.EventKind(0); k.Valid(); k++ {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

// fileSegment is a held segment backed by a footage file.
type fileSegment struct {
	meta docklink.Segment
	path string
}

// readManifestDir reads and checks dir: every file exists, is a regular
// file, and has the size and SHA-256 the manifest states (the hash is
// computed when the manifest does not give it).
func readManifestDir(dir string) (*Manifest, []fileSegment, error) {
	path := filepath.Join(dir, ManifestFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrManifest, path, err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	segs := make([]fileSegment, 0, len(m.Segments))
	for _, s := range m.Segments {
		fs, err := checkFile(dir, s)
		if err != nil {
			return nil, nil, err
		}
		segs = append(segs, fs)
	}
	return m, segs, nil
}

func checkFile(dir string, s ManifestSegment) (fileSegment, error) {
	p := filepath.Join(dir, s.File)
	f, err := os.Open(p)
	if err != nil {
		return fileSegment{}, fmt.Errorf("%w: seq %d: %w", ErrManifest, s.Seq, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileSegment{}, fmt.Errorf("%w: seq %d: %w", ErrManifest, s.Seq, err)
	}
	if !st.Mode().IsRegular() {
		return fileSegment{}, fmt.Errorf("%w: seq %d: %s is not a regular file", ErrManifest, s.Seq, p)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fileSegment{}, fmt.Errorf("%w: seq %d: reading %s: %w", ErrManifest, s.Seq, p, err)
	}
	if s.Size != nil && *s.Size != uint64(n) {
		return fileSegment{}, fmt.Errorf("%w: seq %d: %s is %d bytes, manifest says %d", ErrManifest, s.Seq, p, n, *s.Size)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	if s.SHA256 != "" && !strings.EqualFold(hex.EncodeToString(sum[:]), s.SHA256) {
		return fileSegment{}, fmt.Errorf("%w: seq %d: %s has sha256 %x, manifest says %s", ErrManifest, s.Seq, p, sum, s.SHA256)
	}
	cause, _ := stopCause(s.StopCause)
	md := s.Media
	return fileSegment{path: p, meta: docklink.Segment{
		Seq: s.Seq, Start: s.Start.UTC(), End: s.End.UTC(), Size: uint64(n), SHA256: sum, StopCause: cause,
		Officer: s.Officer, CaseTag: s.CaseTag,
		Media: docklink.Media{Container: md.Container, VideoCodec: md.VideoCodec, Width: md.Width, Height: md.Height,
			FrameRateMilli: md.FrameRateMilli, AudioCodec: md.AudioCodec, AudioSampleRate: md.AudioSampleRate, AudioChannels: md.AudioChannels},
	}}, nil
}
