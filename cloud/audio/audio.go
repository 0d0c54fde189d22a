// Package audio decodes the sound of a recorder's footage into mono samples
// for the spoken-reason check (package reasoncheck).
//
// It reads WAV files (PCM 8/16/24/32-bit, IEEE float, G.711 A-law and µ-law,
// WAVE_FORMAT_EXTENSIBLE) and MP4/MOV files. MP4 is demultiplexed with
// github.com/Eyevinn/mp4ff; PCM and G.711 samples are decoded here in Go, AAC
// is decoded by an ffmpeg subprocess fed with ADTS frames built from the
// demultiplexed samples (ErrFFmpegMissing when ffmpeg is not on PATH). Only
// the opening of a recording is needed, so every decoder takes a maximum
// duration and stops reading there.
//
// Bad input gets a typed error (the Err* sentinels, wrapped with %w), never a
// panic.
package audio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Sentinel errors. Match them with errors.Is.
var (
	ErrNotWAV        = errors.New("audio: not a RIFF/WAVE file")
	ErrUnsupported   = errors.New("audio: unsupported audio format")
	ErrTruncated     = errors.New("audio: truncated file")
	ErrTooLarge      = errors.New("audio: size beyond limits")
	ErrNoAudio       = errors.New("audio: no audio samples")
	ErrUnknownFormat = errors.New("audio: unknown container (want WAV or MP4)")
	ErrNoAudioTrack  = errors.New("audio: mp4 has no audio track")
	ErrBadMP4        = errors.New("audio: malformed mp4")
	ErrFFmpegMissing = errors.New("audio: ffmpeg not found on PATH (needed to decode AAC)")
	ErrFFmpegFailed  = errors.New("audio: ffmpeg failed to decode")
)

// Clip is decoded audio: one channel of the source, the one the voice is
// loudest on (see mixer).
type Clip struct {
	Rate     int       // samples per second
	Samples  []float32 // mono, full scale is ±1
	Channels int       // channels in the source
	Channel  int       // the source channel Samples holds (0-based)
	Codec    string    // what was decoded: "pcm_s16le", "alaw", "aac", ...
}

// Duration of the clip.
func (c *Clip) Duration() time.Duration {
	if c == nil || c.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(len(c.Samples)) / float64(c.Rate) * float64(time.Second))
}

// Limits on what a decoder accepts, so hostile headers cannot make it
// allocate without bound.
const (
	MinRate     = 1000
	MaxRate     = 384000
	MaxChannels = 16
	// MaxDuration caps any decode; the reason check needs seconds.
	MaxDuration = 10 * time.Minute
)

// maxKept bounds the samples a decode keeps over all channels (128 MiB
// of float32): a mixer keeps every channel until it picks one, and a
// hostile header (16 channels at 384 kHz) must not make that unbounded.
// A recorder's stereo at 48 kHz keeps 5.8 min under it; past it the
// decode stops early and the clip is shorter (the reason check reports
// the audio it analysed).
const maxKept = 1 << 25

// frameLimit is how many frames of ch channels at rate a decode of at
// most max keeps.
func frameLimit(rate, ch int, d time.Duration) int {
	if d <= 0 || d > MaxDuration {
		d = MaxDuration
	}
	return min(int(d.Seconds()*float64(rate)+0.5), maxKept/max(ch, 1))
}

// Decode sniffs the container (RIFF/WAVE or ISO BMFF: MP4, MOV) and decodes
// at most max of audio from its start (max <= 0 means MaxDuration).
func Decode(ctx context.Context, r io.ReaderAt, size int64, max time.Duration) (*Clip, error) {
	var head [12]byte
	n, err := r.ReadAt(head[:], 0)
	if n < len(head) {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %d bytes", ErrUnknownFormat, n)
		}
		return nil, fmt.Errorf("audio: read header: %w", err)
	}
	switch {
	case string(head[0:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return DecodeWAV(io.NewSectionReader(r, 0, size), max)
	case isBMFF(head[4:8]):
		return DecodeMP4(ctx, r, size, max)
	}
	return nil, ErrUnknownFormat
}

func isBMFF(t []byte) bool {
	switch string(t) {
	case "ftyp", "moov", "mdat", "free", "skip", "wide", "pnot", "styp":
		return true
	}
	return false
}

// mixer takes interleaved samples, keeps each channel, and gives the one
// with the most signal power (mean removed) as the clip. Averaging the
// channels instead would make a recorder whose second channel is silent
// or disconnected read 6 dB quiet, and the reason check tells the wearer
// from a bystander partly by level (vad.Opts.NearField); a stereo
// microphone with both channels on the wearer gives the same level
// either way.
type mixer struct {
	ch    int
	chans [][]float32
	k     int
	n     int // whole frames taken
}

func newMixer(ch, frames int) *mixer {
	m := &mixer{ch: ch, chans: make([][]float32, ch)}
	for i := range m.chans {
		m.chans[i] = make([]float32, 0, min(frames, 1<<20))
	}
	return m
}

func (m *mixer) add(v float32) {
	m.chans[m.k] = append(m.chans[m.k], v)
	m.k++
	if m.k == m.ch {
		m.k = 0
		m.n++
	}
}

// mono is the loudest channel's whole frames and its index.
func (m *mixer) mono() ([]float32, int) {
	best, bestP := 0, -1.0
	for i, c := range m.chans {
		if p := power(c[:m.n]); p > bestP {
			best, bestP = i, p
		}
	}
	return m.chans[best][:m.n:m.n], best
}

// power is x's variance.
func power(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	var s, ss float64
	for _, v := range x {
		s += float64(v)
		ss += float64(v) * float64(v)
	}
	n := float64(len(x))
	return ss/n - (s/n)*(s/n)
}

// clip makes the Clip of what m took; ErrNoAudio if no whole frame.
func (m *mixer) clip(rate int, codec string) (*Clip, error) {
	if m.n == 0 {
		return nil, ErrNoAudio
	}
	s, ch := m.mono()
	return &Clip{Rate: rate, Samples: s, Channels: m.ch, Channel: ch, Codec: codec}, nil
}
