package vad

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenFrame is a frame's features, rounded.
type goldenFrame struct {
	T                 float64 `json:"t"`
	Level, Noise, SNR float64
	Harm, Pitch       float64
	HighF0            bool
	Tonal, Mod        float64
	Low, High         float64
	Held              float64
}

func r2(v float64) float64 { return math.Round(v*100) / 100 }

// TestFeaturesGolden pins the features of a made scene (pink noise, a
// talker from 1 s to 3 s, two beeps at 3.5 s, held notes from 4.5 s) every
// 20th frame against testdata/features.golden.json, within tolerances that
// allow for floating-point contraction on other architectures.
func TestFeaturesGolden(t *testing.T) {
	x := make([]float32, 6*Rate)
	pink(x, -45, 31)
	talker(x, 1, 2, 150, -8, 32)
	beeps(x, 3.5, 2, -12)
	notes(x, 4.5, 1.4, -10)
	fr := Features(x)
	if want := 1 + (len(x)-frameLen)/hop; len(fr) != want {
		t.Fatalf("%d frames, want %d", len(fr), want)
	}
	var got []goldenFrame
	for i := 0; i < len(fr); i += 20 {
		f := fr[i]
		got = append(got, goldenFrame{T: r2(float64(i) * HopSeconds), Level: r2(f.LevelDB), Noise: r2(f.NoiseDB), SNR: r2(f.SNR),
			Harm: r2(f.Harm), Pitch: r2(f.Pitch), HighF0: f.HighF0, Tonal: r2(f.Tonal), Mod: r2(f.Mod), Low: r2(f.LowDB), High: r2(f.HighDB), Held: r2(f.Held)})
	}
	path := filepath.Join("testdata", "features.golden.json")
	if *update {
		b, _ := json.MarshalIndent(got, "", " ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []goldenFrame
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%d golden frames, got %d", len(want), len(got))
	}
	near := func(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
	for i, w := range want {
		g := got[i]
		if !near(g.Level, w.Level, 0.05) || !near(g.Noise, w.Noise, 0.05) || !near(g.SNR, w.SNR, 0.05) ||
			!near(g.Harm, w.Harm, 0.02) || !near(g.Pitch, w.Pitch, 1) || g.HighF0 != w.HighF0 ||
			!near(g.Tonal, w.Tonal, 0.02) || !near(g.Mod, w.Mod, 0.05) || !near(g.Low, w.Low, 0.05) || !near(g.High, w.High, 0.05) ||
			!near(g.Held, w.Held, 0.02) {
			t.Errorf("frame at %.2f s:\n got %+v\nwant %+v", w.T, g, w)
		}
	}
	// The physics the golden stands for: the talker is voiced at its
	// pitch, the beeps are tones over 400 Hz, the noise alone is not
	// voiced.
	at := func(s float64) Frame { return fr[int(s/HopSeconds)] }
	var noiseVoiced int
	for s := 0.0; s < 0.9; s += HopSeconds {
		if DefaultOpts.voiced(at(s)) {
			noiseVoiced++
		}
	}
	if noiseVoiced > 5 {
		t.Errorf("pink noise alone: %d frames voiced in 0.9 s", noiseVoiced)
	}
	var beep bool
	for s := 3.5; s < 3.65; s += HopSeconds {
		beep = beep || at(s).HighF0
	}
	if !beep {
		t.Error("no frame of the 1 kHz beep at 3.5 s is a tone over 400 Hz")
	}
	// The held notes recur (Frame.Held) more than the talker's syllables.
	var heldNotes, heldTalk []float64
	for s := 1.2; s < 2.8; s += HopSeconds {
		if f := at(s); DefaultOpts.voiced(f) {
			heldTalk = append(heldTalk, f.Held)
		}
	}
	for s := 4.7; s < 5.7; s += HopSeconds {
		if f := at(s); DefaultOpts.voiced(f) {
			heldNotes = append(heldNotes, f.Held)
		}
	}
	if n, s := median(heldNotes), median(heldTalk); n < DefaultOpts.HeldSpectrum || s >= DefaultOpts.HeldSpectrum {
		t.Errorf("median recurrence: held notes %.2f, talker %.2f; want them on either side of %.2f", n, s, DefaultOpts.HeldSpectrum)
	}
	var voiced int
	for s := 1.0; s < 3; s += HopSeconds {
		if f := at(s); DefaultOpts.voiced(f) && f.Pitch > 100 && f.Pitch < 220 {
			voiced++
		}
	}
	if voiced < 40 {
		t.Errorf("%d frames of the talker voiced at 100–220 Hz, want at least 40", voiced)
	}
}
