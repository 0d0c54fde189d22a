package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/mp4"
)

// maxMP4Samples bounds the sample table walked for one opening window.
const maxMP4Samples = 1 << 22

// DecodeMP4 demultiplexes the first audio track of a progressive MP4 or MOV
// file with mp4ff and decodes at most max of it from the start: PCM (ISO
// ipcm/fpcm, QuickTime sowt, twos, lpcm, raw, in24, in32, fl32, fl64) and
// G.711 (alaw, ulaw) here in Go, AAC (mp4a) through ffmpeg.
// Fragmented MP4 is not supported (ErrUnsupported says so).
func DecodeMP4(ctx context.Context, r io.ReaderAt, size int64, max time.Duration) (clip *Clip, err error) {
	defer func() {
		// mp4ff indexes tables read from the file; a hostile file must
		// give an error, never bring the collector down.
		if p := recover(); p != nil {
			clip, err = nil, fmt.Errorf("%w: %v", ErrBadMP4, p)
		}
	}()
	if size <= 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadMP4)
	}
	f, err := mp4.DecodeFile(io.NewSectionReader(r, 0, size), mp4.WithDecodeMode(mp4.DecModeLazyMdat))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMP4, err)
	}
	if f.Moov == nil {
		return nil, fmt.Errorf("%w: no moov box", ErrBadMP4)
	}
	if f.IsFragmented() {
		return nil, fmt.Errorf("%w: fragmented mp4", ErrUnsupported)
	}
	trak := audioTrak(f.Moov)
	if trak == nil {
		return nil, ErrNoAudioTrack
	}
	stbl := trak.Mdia.Minf.Stbl
	if stbl == nil || stbl.Stsd == nil || len(stbl.Stsd.Children) == 0 || stbl.Stsz == nil || stbl.Stsc == nil ||
		(stbl.Stco == nil && stbl.Co64 == nil) {
		return nil, fmt.Errorf("%w: incomplete sample table", ErrBadMP4)
	}
	switch e := stbl.Stsd.Children[0].(type) {
	case *mp4.AudioSampleEntryBox:
		if e.Type() != "mp4a" {
			return nil, fmt.Errorf("%w: audio codec %q", ErrUnsupported, e.Type())
		}
		return decodeMP4AAC(ctx, r, trak, e, max)
	case *mp4.UnknownBox:
		pf, err := parsePCMEntry(e.Type(), e.Payload())
		if err != nil {
			return nil, err
		}
		return decodeMP4PCM(r, trak, pf, max)
	default:
		return nil, fmt.Errorf("%w: audio sample entry %q", ErrUnsupported, e.Type())
	}
}

func audioTrak(moov *mp4.MoovBox) *mp4.TrakBox {
	for _, t := range moov.Traks {
		if t.Mdia != nil && t.Mdia.Hdlr != nil && t.Mdia.Hdlr.HandlerType == "soun" && t.Mdia.Minf != nil {
			return t
		}
	}
	return nil
}

// sampleRanges returns the file ranges of samples 1..n in order.
func sampleRanges(trak *mp4.TrakBox, n uint32) ([]mp4.DataRange, error) {
	if n == 0 {
		return nil, ErrNoAudio
	}
	rs, err := trak.GetRangesForSampleInterval(1, n)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMP4, err)
	}
	return rs, nil
}

func readRange(r io.ReaderAt, off, n uint64) ([]byte, error) {
	if n > 64<<20 || off > math.MaxInt64-n {
		return nil, fmt.Errorf("%w: sample range of %d bytes", ErrTooLarge, n)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, int64(off)); err != nil {
		return nil, fmt.Errorf("%w: sample data at %d: %w", ErrTruncated, off, err)
	}
	return b, nil
}

// pcmFormat describes an uncompressed or G.711 sample entry.
type pcmFormat struct {
	name     string
	channels int
	rate     int
	bits     int
	bigEnd   bool
	float    bool
	law      byte // 'a', 'u' or 0
}

// parsePCMEntry reads an audio sample entry mp4ff keeps undecoded: the
// ISO/IEC 14496-12 12.2.3 layout, which is also QuickTime's sound
// description version 0; versions 1 and 2 (QuickTime File Format, "Sound
// Sample Descriptions") extend it. ipcm/fpcm carry a pcmC box (ISO/IEC
// 23003-5) with the endianness and sample size.
// endaLittle reports whether the extensions after a QuickTime sound
// description hold an 'enda' atom (directly or inside 'wave') saying the
// samples are little-endian: in24, in32, fl32 and fl64 are big-endian
// unless it does (QuickTime File Format, "Sound Sample Description
// Extensions").
func endaLittle(b []byte, depth int) bool {
	be := binary.BigEndian
	for len(b) >= 8 && depth < 3 {
		sz := int(be.Uint32(b))
		if sz < 8 || sz > len(b) {
			return false
		}
		switch string(b[4:8]) {
		case "enda":
			return sz >= 10 && be.Uint16(b[8:]) != 0
		case "wave":
			if endaLittle(b[8:sz], depth+1) {
				return true
			}
		}
		b = b[sz:]
	}
	return false
}

func parsePCMEntry(name string, p []byte) (pcmFormat, error) {
	f := pcmFormat{name: name}
	switch name {
	case "sowt", "twos", "lpcm", "raw ", "in24", "in32", "fl32", "fl64", "ipcm", "fpcm", "alaw", "ulaw":
	default:
		return f, fmt.Errorf("%w: audio sample entry %q", ErrUnsupported, name)
	}
	if len(p) < 28 {
		return f, fmt.Errorf("%w: short %q sample entry", ErrBadMP4, name)
	}
	be := binary.BigEndian
	version := be.Uint16(p[8:])
	f.channels = int(be.Uint16(p[16:]))
	f.bits = int(be.Uint16(p[18:]))
	f.rate = int(be.Uint32(p[24:]) >> 16)
	rest := p[28:]
	switch version {
	case 1:
		if len(rest) < 16 {
			return f, fmt.Errorf("%w: short v1 sound description", ErrBadMP4)
		}
		rest = rest[16:]
	case 2:
		if len(rest) < 36 {
			return f, fmt.Errorf("%w: short v2 sound description", ErrBadMP4)
		}
		f.rate = int(math.Float64frombits(be.Uint64(rest[4:])))
		f.channels = int(be.Uint32(rest[12:]))
		f.bits = int(be.Uint32(rest[20:]))
		flags := be.Uint32(rest[24:])
		f.float = flags&1 != 0
		f.bigEnd = flags&2 != 0
		rest = rest[36:]
	}
	switch name {
	case "sowt":
		f.bigEnd = false
	case "twos", "in24", "in32":
		f.bigEnd = true
		if name == "in24" {
			f.bits = 24
		} else if name == "in32" {
			f.bits = 32
		}
		if name != "twos" && endaLittle(rest, 0) {
			f.bigEnd = false
		}
	case "raw ":
		f.bits = 8 // unsigned 8-bit
	case "fl32", "fl64":
		f.float, f.bigEnd = true, true
		f.bits = 32
		if name == "fl64" {
			f.bits = 64
		}
		if endaLittle(rest, 0) {
			f.bigEnd = false
		}
	case "alaw", "ulaw":
		f.law, f.bits = name[0], 8
	case "ipcm", "fpcm":
		f.float = name == "fpcm"
		f.bigEnd = true
		for len(rest) >= 8 { // child boxes: find pcmC
			sz := int(be.Uint32(rest))
			if sz < 8 || sz > len(rest) {
				break
			}
			if string(rest[4:8]) == "pcmC" && sz >= 14 {
				f.bigEnd = rest[12]&1 == 0
				f.bits = int(rest[13])
			}
			rest = rest[sz:]
		}
	}
	if f.channels < 1 || f.channels > MaxChannels || f.rate < MinRate || f.rate > MaxRate {
		return f, fmt.Errorf("%w: %q with %d channels at %d Hz", ErrUnsupported, name, f.channels, f.rate)
	}
	okBits := f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32
	if f.float {
		okBits = f.bits == 32 || f.bits == 64
	}
	if !okBits {
		return f, fmt.Errorf("%w: %q with %d-bit samples", ErrUnsupported, name, f.bits)
	}
	return f, nil
}

func decodeMP4PCM(r io.ReaderAt, trak *mp4.TrakBox, f pcmFormat, max time.Duration) (*Clip, error) {
	stsz := trak.Mdia.Minf.Stbl.Stsz
	n := min(stsz.GetNrSamples(), maxMP4Samples)
	rs, err := sampleRanges(trak, n)
	if err != nil {
		return nil, err
	}
	bps := f.bits / 8
	block := bps * f.channels
	frames := frameLimit(f.rate, f.channels, max)
	m := newMixer(f.channels, frames)
	var carry []byte
	for _, dr := range rs {
		if m.n >= frames {
			break
		}
		want := uint64(frames-m.n)*uint64(block) - uint64(len(carry))
		b, err := readRange(r, dr.Offset, min(dr.Size, want+uint64(block)))
		if err != nil {
			return nil, err
		}
		b = append(carry, b...)
		whole := len(b) - len(b)%block
		for i := 0; i < whole && m.n < frames; i += bps {
			m.add(f.sample(b[i : i+bps]))
		}
		carry = append([]byte(nil), b[whole:]...)
	}
	codec := "pcm_" + f.name
	if f.law != 0 {
		codec = map[byte]string{'a': "alaw", 'u': "mulaw"}[f.law]
	}
	return m.clip(f.rate, codec)
}

func (f pcmFormat) sample(b []byte) float32 {
	switch f.law {
	case 'a':
		return float32(ALawToLinear(b[0])) / 32768
	case 'u':
		return float32(MuLawToLinear(b[0])) / 32768
	}
	var u uint64
	if f.bigEnd {
		for _, c := range b {
			u = u<<8 | uint64(c)
		}
	} else {
		for i := len(b) - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
	}
	if f.float {
		var v float64
		if f.bits == 32 {
			v = float64(math.Float32frombits(uint32(u)))
		} else {
			v = math.Float64frombits(u)
		}
		if v != v || v > 1e3 || v < -1e3 {
			return 0
		}
		return float32(v)
	}
	if f.bits == 8 {
		if f.name == "raw " {
			return float32(int(u)-128) / 128
		}
		return float32(int8(u)) / 128
	}
	shift := 64 - uint(f.bits)
	v := int64(u<<shift) >> shift
	return float32(float64(v) / float64(uint64(1)<<(f.bits-1)))
}

// decodeMP4AAC wraps each AAC access unit of the opening window in an ADTS
// header and has ffmpeg decode the stream to 16 kHz, every channel.
func decodeMP4AAC(ctx context.Context, r io.ReaderAt, trak *mp4.TrakBox, e *mp4.AudioSampleEntryBox, max time.Duration) (*Clip, error) {
	if e.Esds == nil || e.Esds.DecConfigDescriptor == nil || e.Esds.DecConfigDescriptor.DecSpecificInfo == nil {
		return nil, fmt.Errorf("%w: mp4a without AudioSpecificConfig", ErrBadMP4)
	}
	asc, err := aac.DecodeAudioSpecificConfig(bytes.NewReader(e.Esds.DecConfigDescriptor.DecSpecificInfo.DecConfig))
	if err != nil {
		return nil, fmt.Errorf("%w: AudioSpecificConfig: %w", ErrUnsupported, err)
	}
	sfi, ok := aac.ReverseFrequencies[asc.SamplingFrequency]
	if !ok || asc.ChannelConfiguration == 0 || asc.ChannelConfiguration > 7 {
		return nil, fmt.Errorf("%w: aac at %d Hz, channel configuration %d", ErrUnsupported, asc.SamplingFrequency, asc.ChannelConfiguration)
	}
	stbl := trak.Mdia.Minf.Stbl
	timescale := trak.Mdia.Mdhd.Timescale
	if timescale == 0 || stbl.Stts == nil {
		return nil, fmt.Errorf("%w: no timescale", ErrBadMP4)
	}
	if max <= 0 || max > MaxDuration {
		max = MaxDuration
	}
	// Samples covering the window (plus one frame of decoder priming).
	total := min(stbl.Stsz.GetNrSamples(), maxMP4Samples)
	var n uint32
	var t uint64
	limit := uint64(max.Seconds()*float64(timescale)) + uint64(timescale)/10
	for n < total && t < limit {
		n++
		t += uint64(stbl.Stts.GetDur(n))
	}
	rs, err := sampleRanges(trak, n)
	if err != nil {
		return nil, err
	}
	var adts bytes.Buffer
	nr := uint32(1)
	for _, dr := range rs {
		b, err := readRange(r, dr.Offset, dr.Size)
		if err != nil {
			return nil, err
		}
		for len(b) > 0 && nr <= n {
			sz := int(stbl.Stsz.GetSampleSize(int(nr)))
			if sz > len(b) || sz+7 > 1<<13 {
				return nil, fmt.Errorf("%w: aac sample %d of %d bytes", ErrBadMP4, nr, sz)
			}
			adts.Write(adtsHeader(sfi, asc.ChannelConfiguration, sz))
			adts.Write(b[:sz])
			b = b[sz:]
			nr++
		}
	}
	ch := aacChannels(asc.ChannelConfiguration)
	pcm, err := ffmpegDecode(ctx, "aac", adts.Bytes(), 16000, ch)
	if err != nil {
		return nil, err
	}
	frames := frameLimit(16000, ch, max)
	m := newMixer(ch, frames)
	for _, v := range pcm[:min(len(pcm), frames*ch)] {
		m.add(v)
	}
	return m.clip(16000, "aac")
}

// aacChannels is the channel count of an AAC channel configuration 1-7
// (ISO/IEC 14496-3 table 1.19: 7 is 7.1, eight channels).
func aacChannels(config byte) int {
	if config == 7 {
		return 8
	}
	return int(config)
}

// adtsHeader is the 7-byte ADTS header (ISO/IEC 14496-3 1.A.2.2) for an
// AAC-LC frame (SBR/PS are signalled implicitly, ffmpeg finds them).
// mp4ff's aac.NewADTSHeader refuses object types other than LC, hence ours.
func adtsHeader(sfi byte, ch byte, payload int) []byte {
	l := payload + 7
	return []byte{
		0xFF, 0xF1, // sync, MPEG-4, layer 0, no CRC
		1<<6 | sfi<<2 | ch>>2, // profile LC (2-1), frequency index, channel config high bit
		(ch&3)<<6 | byte(l>>11),
		byte(l >> 3),
		byte(l&7)<<5 | 0x1F, // buffer fullness 0x7FF (VBR)
		0xFC,
	}
}
