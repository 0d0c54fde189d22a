package vad

import (
	"errors"
	"strings"
	"testing"
)

// promptAudio is a made recorder prompt: two beeps, then a phrase in the
// device's voice (a talker at 210 Hz, full band: a recorder with a decent
// speaker, which the band-limit rules alone would take for a talker).
func promptAudio() []float32 {
	x := make([]float32, int(1.6*Rate))
	beeps(x, 0.05, 2, -12)
	talker(x, 0.6, 0.95, 210, -8, 41)
	return x
}

// addAt mixes y into x from start seconds, at gain g.
func addAt(x, y []float32, start float64, g float32) {
	i0 := int(start * Rate)
	for i, v := range y {
		if i0+i < len(x) {
			x[i0+i] += g * v
		}
	}
}

func enrol(t *testing.T) *Prompt {
	t.Helper()
	p, err := NewPrompt("model X: recording resumed", promptAudio(), Rate)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPromptEnrolled pins prompt matching: the enrolled prompt, played
// quieter over street-like noise, is judged SourcePrompt and is not speech
// time (also when the wearer speaks right after it, in the same region);
// without the enrolment the same clip counts the prompt as the wearer's;
// another talker is not the prompt.
func TestPromptEnrolled(t *testing.T) {
	p := enrol(t)
	with := DefaultOpts
	with.Prompts = []*Prompt{p}
	scene := func(wearerAt float64) []float32 {
		x := make([]float32, 8*Rate)
		pink(x, -45, 42)
		addAt(x, promptAudio(), 1, 0.6) // 4.4 dB quieter than enrolled
		if wearerAt > 0 {
			talker(x, wearerAt, 1.2, 130, -8, 43)
		}
		return x
	}
	promptTime := func(a Activity) (judged, speech float64, why string) {
		for _, r := range a.Regions {
			if r.Start < 2.6 && r.End > 1.6 { // over the prompt's phrase
				if r.Source == SourcePrompt {
					judged += r.End - r.Start
					why = r.Why
				}
			}
		}
		for i, s := range a.Speech {
			if t := float64(i) * HopSeconds; s && t >= 1 && t < 2.55 {
				speech += HopSeconds
			}
		}
		return judged, speech, why
	}
	t.Run("prompt alone", func(t *testing.T) {
		a := detect(t, &with, scene(0))
		judged, speech, why := promptTime(a)
		if judged < 0.6 || speech > 0 || !strings.Contains(why, "model X") {
			t.Errorf("prompt judged %.2f s, %.2f s of it speech, why %q; regions %s", judged, speech, why, sources(a))
		}
		if got := speechSeconds(a); got > 0 {
			t.Errorf("%.2f s of wearer speech in a clip with only the prompt", got)
		}
	})
	t.Run("not enrolled: the prompt passes for a talker", func(t *testing.T) {
		a := detect(t, nil, scene(0))
		if got := speechSeconds(a); got < 0.5 {
			t.Errorf("without enrolment only %.2f s counted: the test's prompt does not stand for a full-band one; regions %s", got, sources(a))
		}
	})
	t.Run("wearer right after the prompt", func(t *testing.T) {
		a := detect(t, &with, scene(2.65))
		_, speech, _ := promptTime(a)
		got := speechSeconds(a)
		if speech > 0.1 || got < 0.7 || got > 1.5 {
			t.Errorf("prompt counted %.2f s, wearer %.2f s (want ~1.2 s, none of the prompt); regions %s", speech, got, sources(a))
		}
	})
	t.Run("another talker is not the prompt", func(t *testing.T) {
		x := make([]float32, 8*Rate)
		pink(x, -45, 44)
		talker(x, 1, 1.5, 210, -8, 45) // the prompt's pitch, other syllables
		a := detect(t, &with, x)
		for _, r := range a.Regions {
			if r.Source == SourcePrompt {
				t.Errorf("a talker judged the prompt: %s", sources(a))
			}
		}
		if got := speechSeconds(a); got < 1 {
			t.Errorf("talker counted %.2f s; regions %s", got, sources(a))
		}
	})
}

// TestPromptMatchThreshold pins MinPromptMatch: past 1 nothing matches.
func TestPromptMatchThreshold(t *testing.T) {
	o := DefaultOpts
	o.Prompts = []*Prompt{enrol(t)}
	o.MinPromptMatch = 1.01
	x := make([]float32, 8*Rate)
	pink(x, -45, 42)
	addAt(x, promptAudio(), 1, 0.6)
	a := detect(t, &o, x)
	for _, r := range a.Regions {
		if strings.Contains(r.Why, "enrolled") {
			t.Errorf("matched at a threshold over 1: %s", sources(a))
		}
	}
}

func TestNewPromptErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    []float32
		rate int
		want error
	}{
		{"wrong rate", promptAudio(), 8000, ErrRate},
		{"silence", make([]float32, Rate), Rate, ErrPrompt},
		{"shorter than a frame", make([]float32, 100), Rate, ErrPrompt},
		{"longer than a prompt", make([]float32, 7*Rate), Rate, ErrPrompt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewPrompt(tc.name, tc.x, tc.rate); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
}
