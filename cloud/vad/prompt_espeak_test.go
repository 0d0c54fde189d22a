package vad

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/berthdock/berth/cloud/audio"
)

// speak renders text with espeak-ng (voice v) at 16 kHz: the prompts of
// real recorders are recorded or synthesised speech of this kind.
func speak(t *testing.T, v, text string) []float32 {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		if os.Getenv("BERTH_REQUIRE_ESPEAK") != "" {
			t.Fatal("espeak-ng required (BERTH_REQUIRE_ESPEAK is set) but not on PATH")
		}
		t.Skip("espeak-ng not on PATH")
	}
	out, err := exec.Command("espeak-ng", "-v", v, "--stdout", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng: %v", err)
	}
	c, err := audio.DecodeWAV(bytes.NewReader(out), 0)
	if err != nil {
		t.Fatal(err)
	}
	return audio.Resample(c, Rate).Samples
}

// TestPromptEspeak enrols a spoken prompt made by espeak-ng with a beep
// before it, and finds it in a clip where it plays 6 dB quieter over
// noise, while the same synthetic voice saying other words (the wearer,
// here) is not taken for it and is counted.
func TestPromptEspeak(t *testing.T) {
	words := speak(t, "en", "recording resumed")
	prompt := make([]float32, int(0.3*Rate)+len(words))
	beeps(prompt, 0.02, 1, -12)
	copy(prompt[int(0.3*Rate):], words)
	p, err := NewPrompt("espeak: recording resumed", prompt, Rate)
	if err != nil {
		t.Fatal(err)
	}
	other := speak(t, "en", "the battery ran out, I changed it")
	x := make([]float32, 10*Rate)
	pink(x, -45, 51)
	addAt(x, prompt, 0.5, 0.5)
	addAt(x, other, 3.5, 1)
	o := DefaultOpts
	o.Prompts = []*Prompt{p}
	a := detect(t, &o, x)
	end := 0.5 + float64(len(prompt))/Rate
	var promptJudged, promptSpeech, wearer float64
	for _, r := range a.Regions {
		if r.Source == SourcePrompt && strings.Contains(r.Why, "espeak") {
			promptJudged += r.End - r.Start
		}
	}
	for i, s := range a.Speech {
		switch ts := float64(i) * HopSeconds; {
		case s && ts < end:
			promptSpeech += HopSeconds
		case s && ts >= 3.4:
			wearer += HopSeconds
		}
	}
	if promptJudged < 0.5 || promptSpeech > 0.1 {
		t.Errorf("prompt judged %.2f s, %.2f s of it counted as speech; regions %s", promptJudged, promptSpeech, sources(a))
	}
	if wearer < 1 {
		t.Errorf("the other words: %.2f s counted; regions %s", wearer, sources(a))
	}
	// Without the enrolment the prompt passes for the wearer: the match is
	// what tells it.
	bare := detect(t, nil, x)
	var counted float64
	for i, s := range bare.Speech {
		if s && float64(i)*HopSeconds < end {
			counted += HopSeconds
		}
	}
	if counted < 0.3 {
		t.Errorf("not enrolled, the prompt counted only %.2f s: the test no longer shows the match; regions %s", counted, sources(bare))
	}
}
