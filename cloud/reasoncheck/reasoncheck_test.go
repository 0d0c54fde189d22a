package reasoncheck

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/audio"
)

// TestSynthetic holds the detector to the cases the policy names, on
// signals made here: a near talker over noise counts; the recorder's short
// prompt, a distant talker, sirens, engines and noise do not.
func TestSynthetic(t *testing.T) {
	const secs = 12
	cases := []struct {
		name   string
		make   func(x []float32)
		spoken bool
	}{
		{"talker over pink noise at ~15 dB", func(x []float32) { noise(x, 1, -40, 1); voice(x, 2, 5, 130, -16, 2) }, true},
		{"high-pitched talker over white noise", func(x []float32) { noise(x, 0, -38, 3); voice(x, 1, 4, 240, -15, 4) }, true},
		{"talker over traffic rumble", func(x []float32) { noise(x, 2, -30, 5); voice(x, 3, 5, 110, -14, 6) }, true},
		{"talker over an engine", func(x []float32) { engine(x, 45, -36, 7); voice(x, 2, 5, 150, -15, 8) }, true},
		{"talker over a siren", func(x []float32) { siren(x, 650, 1400, 4, -34, false); voice(x, 2, 5, 150, -15, 9) }, true},
		{"prompt of one second", func(x []float32) { noise(x, 1, -45, 10); voice(x, 0.3, 1, 200, -14, 11) }, false},
		{"distant talker", func(x []float32) { noise(x, 1, -60, 12); voice(x, 1, 8, 140, -48, 13) }, false},
		{"distant talker under the wearer", func(x []float32) {
			noise(x, 1, -60, 14)
			voice(x, 0, 12, 180, -46, 15)
			voice(x, 3, 1.2, 130, -14, 16) // the wearer: too short alone
		}, false},
		{"wailing siren", func(x []float32) { noise(x, 1, -50, 17); siren(x, 600, 1400, 4, -16, false) }, false},
		{"yelping square siren", func(x []float32) { noise(x, 0, -50, 18); siren(x, 700, 1600, 0.5, -16, true) }, false},
		{"hi-lo siren", func(x []float32) { noise(x, 2, -45, 19); siren(x, 450, 650, 1, -18, true) }, false},
		{"idling diesel", func(x []float32) { noise(x, 1, -50, 20); engine(x, 40, -18, 21) }, false},
		{"revving engine", func(x []float32) { noise(x, 2, -40, 22); engine(x, 120, -20, 23) }, false},
		{"white noise (rain)", func(x []float32) { noise(x, 0, -20, 24) }, false},
		{"brown noise (traffic)", func(x []float32) { noise(x, 2, -20, 25) }, false},
		{"digital silence", func(x []float32) {}, false},
	}
	c := New(nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := make([]float32, secs*sr)
			tc.make(x)
			gain(x, scene)
			res, err := c.CheckClip(context.Background(), &audio.Clip{Rate: sr, Samples: x, Channels: 1}, Policy{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%.2f s of wearer speech, noise %.1f dBFS, speech %.1f dBFS", res.SpeechSeconds, res.NoiseDBFS, res.SpeechDBFS)
			if res.ReasonSpoken != tc.spoken {
				b, _ := json.Marshal(res.Regions)
				t.Errorf("reason_spoken=%v with %.2f s, want %v; regions %s", res.ReasonSpoken, res.SpeechSeconds, tc.spoken, b)
			}
		})
	}
}

// TestEvidence checks the evidence of a known layout: speech from 2 s to
// 6 s in a 10 s window.
func TestEvidence(t *testing.T) {
	x := make([]float32, 10*sr)
	noise(x, 1, -45, 1)
	voice(x, 2, 4, 150, -14, 2)
	gain(x, scene)
	res, err := New(nil).CheckClip(context.Background(), &audio.Clip{Rate: sr, Samples: x, Channels: 1, Codec: "test"}, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ReasonSpoken || res.SpeechSeconds < 3 || res.SpeechSeconds > 4.5 {
		t.Errorf("speech %.2f s spoken=%v, want 3–4.5 s and spoken", res.SpeechSeconds, res.ReasonSpoken)
	}
	if math.Abs(res.OnsetSeconds-2) > 0.3 {
		t.Errorf("onset %.2f s, want ~2 s", res.OnsetSeconds)
	}
	if len(res.Activity) != 10 {
		t.Fatalf("activity has %d seconds, want 10", len(res.Activity))
	}
	for s, a := range res.Activity {
		inside := s >= 2 && s < 6
		if inside && a < 0.5 || !inside && s != 1 && s != 6 && a > 0 {
			t.Errorf("activity[%d] = %.2f (speech 2–6 s)", s, a)
		}
	}
	if res.NoiseDBFS > -40 || res.NoiseDBFS < -60 {
		t.Errorf("noise floor %.1f dBFS, want near the -45 dBFS noise", res.NoiseDBFS)
	}
	if res.SpeechDBFS < -30 || res.SpeechDBFS > -10 {
		t.Errorf("speech level %.1f dBFS, want near the talker's -14 dBFS peak", res.SpeechDBFS)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("result not JSON-serialisable: %v", err)
	}
	// A shorter window sees less.
	short, err := New(nil).CheckClip(context.Background(), &audio.Clip{Rate: sr, Samples: x, Channels: 1}, Policy{Window: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if short.WindowSeconds != 3 || short.SpeechSeconds > 1.1 || short.ReasonSpoken {
		t.Errorf("3 s window: %.2f s analysed, %.2f s speech, spoken=%v", short.WindowSeconds, short.SpeechSeconds, short.ReasonSpoken)
	}
}

func TestErrors(t *testing.T) {
	c := New(nil)
	ctx := context.Background()
	if _, err := c.CheckClip(ctx, &audio.Clip{Rate: sr}, Policy{}); !errors.Is(err, audio.ErrNoAudio) {
		t.Errorf("empty clip: %v, want ErrNoAudio", err)
	}
	x := make([]float32, sr)
	if _, err := c.CheckClip(ctx, &audio.Clip{Rate: sr, Samples: x}, Policy{Window: time.Second, MinSpeech: 2 * time.Second}); !errors.Is(err, ErrBadPolicy) {
		t.Errorf("min speech over window: %v, want ErrBadPolicy", err)
	}
	r := bytesReaderAt("not audio at all")
	if _, err := c.Check(ctx, r, int64(len(r)), Policy{}); !errors.Is(err, audio.ErrUnknownFormat) {
		t.Errorf("text file: %v, want audio.ErrUnknownFormat", err)
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, errors.New("eof")
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, errors.New("eof")
	}
	return n, nil
}
