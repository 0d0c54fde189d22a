package audio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenClip is what a fixture decodes to: its format, and the first
// samples (rounded to 1e-4) before and after resampling to 16 kHz.
type goldenClip struct {
	Rate     int       `json:"rate"`
	Channels int       `json:"channels"`
	Codec    string    `json:"codec"`
	Samples  int       `json:"samples"`
	Head     []float64 `json:"head"`
	Head16k  []float64 `json:"head_16k"`
	Len16k   int       `json:"len_16k"`
}

func head(x []float32, n int) []float64 {
	out := make([]float64, 0, n)
	for _, v := range x[:min(n, len(x))] {
		out = append(out, math.Round(float64(v)*1e4)/1e4)
	}
	return out
}

func decodeFile(t *testing.T, path string) *Clip {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(context.Background(), bytes.NewReader(b), int64(len(b)), time.Second)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// tone measures the power share of the 440 Hz tone in x (Goertzel) and the
// RMS level in dBFS.
func tone(x []float32, rate int) (share, rmsDB float64) {
	w := 2 * math.Pi * 440 / float64(rate)
	var s1, s2, e float64
	for _, v := range x {
		s := float64(v) + 2*math.Cos(w)*s1 - s2
		s2, s1 = s1, s
		e += float64(v) * float64(v)
	}
	p := s1*s1 + s2*s2 - 2*math.Cos(w)*s1*s2
	n := float64(len(x))
	return 2 * p / n / e, 10 * math.Log10(e/n)
}

// TestDecodeGolden decodes each fixture (MOV with PCM in four layouts,
// A-law and mu-law at 8, 44.1 and 48 kHz, mono and stereo; a WAV), checks it
// against its golden and checks the physics: a 440 Hz tone (ffmpeg's sine
// source is at 1/8 of full scale, the fixtures 6 dB under that: -27.07
// dBFS RMS) before and after resampling to 16 kHz.
func TestDecodeGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.mov")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "testdata/pcm_s16le_16k.wav")
	gpath := filepath.Join("testdata", "decode.golden.json")
	want := map[string]goldenClip{}
	if !*update {
		b, err := os.ReadFile(gpath)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]goldenClip{}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			c := decodeFile(t, f)
			r := Resample(c, 16000)
			g := goldenClip{Rate: c.Rate, Channels: c.Channels, Codec: c.Codec, Samples: len(c.Samples),
				Head: head(c.Samples, 16), Head16k: head(r.Samples, 16), Len16k: len(r.Samples)}
			got[name] = g
			if wantN := len(c.Samples) * 16000 / c.Rate; abs(len(r.Samples)-wantN) > 1 {
				t.Errorf("resampled to %d samples, want %d", len(r.Samples), wantN)
			}
			for _, x := range []struct {
				what string
				s    []float32
				rate int
			}{{"decoded", c.Samples, c.Rate}, {"at 16 kHz", r.Samples, 16000}} {
				// Skip the resampler's edges (16 zero crossings).
				s := x.s[len(x.s)/8 : len(x.s)*7/8]
				share, rms := tone(s, x.rate)
				tol := 0.1
				if c.Codec == "alaw" || c.Codec == "mulaw" {
					tol = 0.3 // 8-bit companding noise
				}
				if share < 0.98 || math.Abs(rms-(-27.07)) > tol {
					t.Errorf("%s: tone share %.3f, RMS %.2f dBFS; want a pure 440 Hz at -27.07 dBFS", x.what, share, rms)
				}
			}
			if *update {
				return
			}
			w, ok := want[name]
			if !ok {
				t.Fatalf("no golden for %s (run with -update)", name)
			}
			if w.Rate != g.Rate || w.Channels != g.Channels || w.Codec != g.Codec || w.Samples != g.Samples ||
				w.Len16k != g.Len16k || !slices.Equal(w.Head, g.Head) || !slices.Equal(w.Head16k, g.Head16k) {
				t.Errorf("decoded %+v\nwant    %+v", g, w)
			}
		})
	}
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(gpath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestG711Tables pins a few code points of ITU-T G.711 (A-law 0xD5 and
// mu-law 0xFF decode to the smallest magnitudes; the extremes to the
// largest).
func TestG711Tables(t *testing.T) {
	for _, c := range []struct {
		name string
		got  int16
		want int16
	}{
		{"alaw 0xD5", ALawToLinear(0xD5), 8},
		{"alaw 0x55", ALawToLinear(0x55), -8},
		{"alaw 0xAA", ALawToLinear(0xAA), 32256},
		{"alaw 0x2A", ALawToLinear(0x2A), -32256},
		{"mulaw 0xFF", MuLawToLinear(0xFF), 0},
		{"mulaw 0x80", MuLawToLinear(0x80), 32124},
		{"mulaw 0x00", MuLawToLinear(0x00), -32124},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// TestDecodeBad feeds broken containers: each gives a typed error.
func TestDecodeBad(t *testing.T) {
	good, err := os.ReadFile("testdata/pcm_s16le_8k.mov")
	if err != nil {
		t.Fatal(err)
	}
	wav, err := os.ReadFile("testdata/pcm_s16le_16k.wav")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   []byte
		want []error
	}{
		{"empty", nil, []error{ErrUnknownFormat, ErrTruncated, ErrBadMP4, ErrNotWAV}},
		{"text", []byte("hello, this is not audio at all"), []error{ErrUnknownFormat}},
		{"mov cut in half", good[:len(good)/2], []error{ErrBadMP4, ErrTruncated, ErrNoAudio}},
		{"wav cut in its header", wav[:30], []error{ErrTruncated, ErrNotWAV}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(context.Background(), bytes.NewReader(c.in), int64(len(c.in)), time.Second)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if errors.Is(err, w) {
					return
				}
			}
			t.Errorf("err %v, want one of %v", err, c.want)
		})
	}
}

// FuzzDecode: any input gives a clip or an error, never a panic, and a
// clip is well formed.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && filepath.Ext(p) != ".json" && filepath.Ext(p) != ".sh" {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(context.Background(), bytes.NewReader(b), int64(len(b)), 2*time.Second)
		if err != nil {
			return
		}
		if c.Rate < MinRate || c.Rate > MaxRate || c.Channels < 1 || c.Channels > MaxChannels ||
			c.Channel < 0 || c.Channel >= c.Channels {
			t.Fatalf("clip rate %d channels %d channel %d", c.Rate, c.Channels, c.Channel)
		}
		if c.Codec == "aac" {
			return
		}
		for _, v := range c.Samples {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("non-finite sample")
			}
		}
	})
}
