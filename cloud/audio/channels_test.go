package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// stereoWAV is a 16-bit PCM WAV at rate Hz whose channel i holds
// chans[i] (all the same length).
func stereoWAV(rate int, chans ...[]float32) []byte {
	n, ch := len(chans[0]), len(chans)
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(36+n*ch*2))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(ch), uint32(rate), uint32(rate * ch * 2), uint16(ch * 2), uint16(16)} {
		binary.Write(&b, le, v)
	}
	b.WriteString("data")
	binary.Write(&b, le, uint32(n*ch*2))
	for i := range n {
		for _, c := range chans {
			binary.Write(&b, le, int16(math.Round(float64(c[i])*32767)))
		}
	}
	return b.Bytes()
}

func sine(n, rate int, hz, amp float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return x
}

func rmsDB(x []float32) float64 { return 10 * math.Log10(power(x)) }

// TestLoudestChannel: a recorder with a dead or disconnected channel (silent,
// or stuck at a DC offset, or hiss) is heard at its microphone's level, not
// 6 dB under it as an average of the channels would give; the clip says
// which channel it holds.
func TestLoudestChannel(t *testing.T) {
	const rate = 16000
	voice := sine(rate, rate, 440, 0.25) // -15.05 dBFS RMS
	silent := make([]float32, rate)
	offset := make([]float32, rate)
	for i := range offset {
		offset[i] = 0.4 // louder than the voice by raw energy, no signal
	}
	hiss := sine(rate, rate, 3000, 0.01)
	for _, tc := range []struct {
		name  string
		chans [][]float32
		want  int
	}{
		{"voice left, silent right", [][]float32{voice, silent}, 0},
		{"silent left, voice right", [][]float32{silent, voice}, 1},
		{"DC-stuck left, voice right", [][]float32{offset, voice}, 1},
		{"hiss, hiss, voice", [][]float32{hiss, hiss, voice}, 2},
		{"voice on both", [][]float32{voice, voice}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := stereoWAV(rate, tc.chans...)
			c, err := Decode(context.Background(), bytes.NewReader(b), int64(len(b)), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if c.Channels != len(tc.chans) || c.Channel != tc.want || len(c.Samples) != rate {
				t.Fatalf("decoded %d channels, channel %d, %d samples; want %d, %d, %d",
					c.Channels, c.Channel, len(c.Samples), len(tc.chans), tc.want, rate)
			}
			if got := rmsDB(c.Samples); math.Abs(got-rmsDB(voice)) > 0.05 {
				t.Errorf("clip at %.2f dBFS, the microphone's channel is at %.2f", got, rmsDB(voice))
			}
		})
	}
}

// TestLoudestChannelAAC: the same through the AAC path (ffmpeg decodes
// every channel; the mixer picks): a stereo AAC recording whose left
// channel is silent reads at the level of its mono counterpart.
func TestLoudestChannelAAC(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("BERTH_REQUIRE_FFMPEG") != "" {
			t.Fatal("ffmpeg required (BERTH_REQUIRE_FFMPEG is set) but not on PATH")
		}
		t.Skip("ffmpeg not on PATH (AAC decode)")
	}
	dir := t.TempDir()
	encode := func(name string, args ...string) *Clip {
		p := filepath.Join(dir, name)
		args = append([]string{"-hide_banner", "-nostdin", "-loglevel", "error"}, args...)
		args = append(args, "-c:a", "aac", "-b:a", "96k", "-y", p)
		if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, out)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Decode(context.Background(), bytes.NewReader(b), int64(len(b)), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	const tone = "sine=f=440:d=3:r=16000"
	mono := encode("mono.m4a", "-f", "lavfi", "-i", tone)
	stereo := encode("stereo.m4a", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono:d=3", "-f", "lavfi", "-i", tone,
		"-filter_complex", "[0:a][1:a]amerge=inputs=2[a]", "-map", "[a]")
	if mono.Channels != 1 || stereo.Channels != 2 || stereo.Channel != 1 {
		t.Fatalf("mono: %d channels; stereo: %d channels, channel %d; want 1, 2, 1", mono.Channels, stereo.Channels, stereo.Channel)
	}
	// Skip the codec's priming and the clip's tail.
	m, s := mono.Samples[len(mono.Samples)/8:len(mono.Samples)*7/8], stereo.Samples[len(stereo.Samples)/8:len(stereo.Samples)*7/8]
	if d := rmsDB(s) - rmsDB(m); math.Abs(d) > 0.5 {
		t.Errorf("stereo with a silent channel at %.2f dBFS, mono at %.2f: %+.2f dB", rmsDB(s), rmsDB(m), d)
	}
}
