package audio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// WAVE format tags (RFC 2361).
const (
	wavePCM        = 0x0001
	waveFloat      = 0x0003
	waveALaw       = 0x0006
	waveMuLaw      = 0x0007
	waveExtensible = 0xFFFE
)

// wavFormat is the fmt chunk.
type wavFormat struct {
	tag        uint16
	channels   int
	rate       int
	blockAlign int
	bits       int
}

// maxSkipChunk bounds chunks skipped before "data" (LIST, bext, ...).
const maxSkipChunk = 16 << 20

// DecodeWAV decodes a RIFF/WAVE stream: PCM 8 (unsigned), 16, 24, 32-bit,
// IEEE float 32/64-bit, G.711 A-law and µ-law, plain or
// WAVE_FORMAT_EXTENSIBLE, any channel count up to MaxChannels (the
// loudest kept: see mixer).
// It reads at most max of audio (max <= 0 means MaxDuration). A data chunk
// whose declared size is 0 or 0xFFFFFFFF (a writer that never finalised the
// header) or runs past the end of the file is read to the end of the file:
// the audio that is there is kept.
func DecodeWAV(r io.Reader, max time.Duration) (*Clip, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotWAV, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, ErrNotWAV
	}
	var f *wavFormat
	for {
		var ch [8]byte
		if _, err := io.ReadFull(br, ch[:]); err != nil {
			if f == nil {
				return nil, fmt.Errorf("%w: no fmt chunk", ErrTruncated)
			}
			return nil, fmt.Errorf("%w: no data chunk", ErrTruncated)
		}
		id := string(ch[0:4])
		size := binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrNotWAV, size)
			}
			b := make([]byte, size+size&1)
			if _, err := io.ReadFull(br, b); err != nil {
				return nil, fmt.Errorf("%w: fmt chunk: %w", ErrTruncated, err)
			}
			var err error
			if f, err = parseFmt(b[:size]); err != nil {
				return nil, err
			}
		case "data":
			if f == nil {
				return nil, fmt.Errorf("%w: data before fmt", ErrNotWAV)
			}
			var src io.Reader = br
			if size != 0 && size != 0xFFFFFFFF {
				src = io.LimitReader(br, int64(size))
			}
			return decodeWAVData(src, f, max)
		default:
			if size > maxSkipChunk {
				return nil, fmt.Errorf("%w: %q chunk of %d bytes", ErrTooLarge, id, size)
			}
			if _, err := br.Discard(int(size + size&1)); err != nil {
				return nil, fmt.Errorf("%w: %q chunk: %w", ErrTruncated, id, err)
			}
		}
	}
}

func parseFmt(b []byte) (*wavFormat, error) {
	le := binary.LittleEndian
	f := &wavFormat{
		tag:        le.Uint16(b[0:]),
		channels:   int(le.Uint16(b[2:])),
		rate:       int(le.Uint32(b[4:])),
		blockAlign: int(le.Uint16(b[12:])),
		bits:       int(le.Uint16(b[14:])),
	}
	if f.tag == waveExtensible {
		if len(b) < 40 {
			return nil, fmt.Errorf("%w: short WAVE_FORMAT_EXTENSIBLE", ErrNotWAV)
		}
		// cbSize(2) validBits(2) channelMask(4) subFormat GUID(16): the
		// GUID's first two bytes are the format tag.
		f.tag = le.Uint16(b[24:])
	}
	if f.channels < 1 || f.channels > MaxChannels {
		return nil, fmt.Errorf("%w: %d channels", ErrUnsupported, f.channels)
	}
	if f.rate < MinRate || f.rate > MaxRate {
		return nil, fmt.Errorf("%w: sample rate %d", ErrUnsupported, f.rate)
	}
	ok := false
	switch f.tag {
	case wavePCM:
		ok = f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32
	case waveFloat:
		ok = f.bits == 32 || f.bits == 64
	case waveALaw, waveMuLaw:
		ok = f.bits == 8
	}
	if !ok {
		return nil, fmt.Errorf("%w: format tag %#04x with %d bits", ErrUnsupported, f.tag, f.bits)
	}
	if f.blockAlign != f.channels*f.bits/8 {
		return nil, fmt.Errorf("%w: block align %d for %d channels of %d bits", ErrNotWAV, f.blockAlign, f.channels, f.bits)
	}
	return f, nil
}

func (f *wavFormat) codec() string {
	switch f.tag {
	case waveALaw:
		return "alaw"
	case waveMuLaw:
		return "mulaw"
	case waveFloat:
		return fmt.Sprintf("pcm_f%dle", f.bits)
	case wavePCM:
		if f.bits == 8 {
			return "pcm_u8"
		}
	}
	return fmt.Sprintf("pcm_s%dle", f.bits)
}

func decodeWAVData(src io.Reader, f *wavFormat, max time.Duration) (*Clip, error) {
	frames := frameLimit(f.rate, f.channels, max)
	m := newMixer(f.channels, frames)
	bps := f.bits / 8
	buf := make([]byte, 32<<10-(32<<10)%f.blockAlign)
	for m.n < frames {
		want := min(len(buf), (frames-m.n)*f.blockAlign)
		n, err := io.ReadFull(src, buf[:want])
		n -= n % f.blockAlign
		for i := 0; i < n; i += bps {
			m.add(sampleAt(buf[i:i+bps], f))
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return nil, fmt.Errorf("audio: read wav data: %w", err)
		}
	}
	return m.clip(f.rate, f.codec())
}

func sampleAt(b []byte, f *wavFormat) float32 {
	le := binary.LittleEndian
	switch f.tag {
	case waveALaw:
		return float32(ALawToLinear(b[0])) / 32768
	case waveMuLaw:
		return float32(MuLawToLinear(b[0])) / 32768
	case waveFloat:
		var v float64
		if f.bits == 32 {
			v = float64(math.Float32frombits(le.Uint32(b)))
		} else {
			v = math.Float64frombits(le.Uint64(b))
		}
		if v != v || v > 1e3 || v < -1e3 { // NaN or absurd: clamp, never propagate
			return 0
		}
		return float32(v)
	}
	switch f.bits {
	case 8:
		return float32(int(b[0])-128) / 128
	case 16:
		return float32(int16(le.Uint16(b))) / 32768
	case 24:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float32(v) / 8388608
	default:
		return float32(int32(le.Uint32(b))) / 2147483648
	}
}
