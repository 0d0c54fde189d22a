package reasoncheck

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdock/berth/cloud/audio"
	"github.com/berthdock/berth/cloud/vad"
)

// wavFile writes x as a 16-bit mono WAV at rate into dir/name.
func wavFile(t *testing.T, dir, name string, x []float32, rate int) string {
	t.Helper()
	b := make([]byte, 44+2*len(x))
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(x)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(x)))
	for i, v := range x {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(int16(math.Round(float64(max(-1, min(1, v)))*32767))))
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// promptScene is a made recorder prompt long enough to pass for a reason
// (2.6 s of a full-band voice), and a window where it plays, quieter, over
// noise and nothing else is said.
func promptScene() (prompt, window []float32) {
	prompt = make([]float32, 3*sr)
	voice(prompt, 0.2, 2.6, 210, -12, 61)
	window = make([]float32, 12*sr)
	noise(window, 1, -45, 62)
	for i, v := range prompt {
		window[sr+i] += 0.7 * v
	}
	gain(window, scene)
	return prompt, window
}

// TestLoadPrompt enrols a prompt from a WAV file (at 8 kHz: resampled)
// and checks that the check then judges it the prompt, named after the
// file, where without it the prompt alone passes for a spoken reason.
func TestLoadPrompt(t *testing.T) {
	prompt, window := promptScene()
	narrow := audio.Resample(&audio.Clip{Rate: sr, Samples: prompt, Channels: 1}, 8000)
	path := wavFile(t, t.TempDir(), "modelX-resumed.wav", narrow.Samples, 8000)
	ps, err := LoadPromptFiles(context.Background(), []string{path})
	if err != nil {
		t.Fatal(err)
	}
	clip := &audio.Clip{Rate: sr, Samples: window, Channels: 1}
	bare, err := New(nil).CheckClip(context.Background(), clip, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if !bare.ReasonSpoken {
		t.Fatalf("without the enrolment the prompt should pass for a reason (%.2f s): the test shows nothing", bare.SpeechSeconds)
	}
	res, err := NewWithOpts(Opts{Prompts: ps}).CheckClip(context.Background(), clip, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	var named bool
	for _, r := range res.Regions {
		named = named || r.Source == vad.SourcePrompt && strings.Contains(r.Why, "modelX-resumed")
	}
	if res.ReasonSpoken || res.SpeechSeconds > 0.3 || !named {
		t.Errorf("enrolled: spoken=%v with %.2f s, prompt named %v; regions %+v", res.ReasonSpoken, res.SpeechSeconds, named, res.Regions)
	}
}

func TestLoadPromptErrors(t *testing.T) {
	dir := t.TempDir()
	long := make([]float32, 8*sr)
	voice(long, 0, 8, 200, -12, 63)
	junk := filepath.Join(dir, "junk.wav")
	if err := os.WriteFile(junk, []byte("not audio at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       error
	}{
		{"missing file", filepath.Join(dir, "none.wav"), os.ErrNotExist},
		{"longer than a prompt", wavFile(t, dir, "long.wav", long, sr), vad.ErrPrompt},
		{"silence", wavFile(t, dir, "quiet.wav", make([]float32, sr), sr), vad.ErrPrompt},
		{"not audio", junk, audio.ErrUnknownFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadPromptFiles(context.Background(), []string{tc.path}); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
}
