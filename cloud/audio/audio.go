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

// Clip is decoded audio, mixed down to one channel.
type Clip struct {
	Rate     int       // samples per second
	Samples  []float32 // mono, full scale is ±1
	Channels int       // channels in the source before the mixdown
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

func frameLimit(rate int, max time.Duration) int {
	if max <= 0 || max > MaxDuration {
		max = MaxDuration
	}
	return int(max.Seconds()*float64(rate) + 0.5)
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

// mixer accumulates interleaved samples into a mono clip.
type mixer struct {
	ch  int
	out []float32
	acc float32
	k   int
}

func (m *mixer) add(v float32) {
	m.acc += v
	m.k++
	if m.k == m.ch {
		m.out = append(m.out, m.acc/float32(m.ch))
		m.acc, m.k = 0, 0
	}
}
