package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdock/berth/cloud/reasoncheck"
	"github.com/berthdock/berth/firmware-protocol/recsim/fixtures"
)

// TestReasonCheckJSON runs `collector reason-check --json` on the fixture
// recorder's clip 4 (AAC in MP4, a reason spoken at its start) and checks
// that the verdict lists the regions heard, each with its judged source
// and why.
func TestReasonCheckJSON(t *testing.T) {
	p := fixtureClip(t)
	var out, errOut bytes.Buffer
	if code := runReasonCheck(context.Background(), []string{"--json", p}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var res struct {
		File string `json:"file"`
		reasoncheck.Result
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if !res.ReasonSpoken || len(res.Regions) == 0 {
		t.Fatalf("verdict %+v, want a spoken reason with its regions", res.Result)
	}
	var counted float64
	for _, r := range res.Regions {
		if r.Source == "" || r.Why == "" {
			t.Errorf("region %+v has no source or no reason", r)
		}
		if r.Wearer {
			counted += r.SpeechSeconds
		}
	}
	if counted < res.SpeechSeconds-0.05 || counted > res.SpeechSeconds+0.05 {
		t.Errorf("regions count %.2f s of wearer speech, the verdict %.2f s", counted, res.SpeechSeconds)
	}
	for _, key := range []string{`"source":`, `"why":`, `"speech_s":`} {
		if !bytes.Contains(out.Bytes(), []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, out.String())
		}
	}

	// The table names what was heard.
	out.Reset()
	if code := runReasonCheck(context.Background(), []string{p}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("HEARD")) || !bytes.Contains(out.Bytes(), []byte("wearer ")) {
		t.Errorf("table lacks what was heard: %s", out.String())
	}

	// With a transcription endpoint (a local stand-in), the transcript of
	// the wearer's speech and the reason it states join the verdict.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := r.FormFile("file"); err != nil || r.URL.Path != "/v1/audio/transcriptions" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		io.WriteString(w, `{"text":"The battery is low, recording resumed"}`)
	}))
	t.Cleanup(srv.Close)
	out.Reset()
	if code := runReasonCheck(context.Background(), []string{"--json", "--asr-url", srv.URL, p}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !bytes.Contains(out.Bytes(), []byte(`"transcript":"The battery is low, recording resumed"`)) ||
		!bytes.Contains(out.Bytes(), []byte(`"stated_reasons":["low battery"]`)) {
		t.Errorf("JSON lacks the transcript or the stated reason: %s", out.String())
	}
}

// TestReasonCheckPrompt enrols, with --prompt, the first 3 s of the
// fixture clip 4 (cut by ffmpeg to a 16 kHz WAV) as if it were the
// recorder's prompt: the check then judges that stretch the prompt,
// named after the file. A prompt file that cannot be enrolled is a usage
// error (exit 2).
func TestReasonCheckPrompt(t *testing.T) {
	clip := fixtureClip(t)
	dir := filepath.Dir(clip)
	prompt := filepath.Join(dir, "model-x-prompt.wav")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", clip,
		"-t", "3", "-vn", "-ac", "1", "-ar", "16000", "-y", prompt).CombinedOutput(); err != nil {
		t.Fatalf("cut the prompt: %v: %s", err, out)
	}
	var out, errOut bytes.Buffer
	if code := runReasonCheck(context.Background(), []string{"--json", "--prompt", prompt, clip}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var res reasoncheck.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	var named bool
	for _, r := range res.Regions {
		named = named || r.Source == "prompt" && bytes.Contains([]byte(r.Why), []byte("model-x-prompt"))
	}
	if !named {
		t.Errorf("no region judged the enrolled prompt: %s", out.String())
	}
	errOut.Reset()
	if code := runReasonCheck(context.Background(), []string{"--prompt", filepath.Join(dir, "none.wav"), clip}, &out, &errOut); code != 2 {
		t.Errorf("a missing prompt file: exit %d, want 2 (%s)", code, errOut.String())
	}
}

// TestReasonCheckCalibrate: the fixture recorder's clip 4 (a reason
// spoken) replayed through a recorder 20 dB quieter is judged no reason
// at all; `--calibrate` on three such clips measures the microphone
// (20 dB under what it measures on the original), and `--mic-gain` with
// that figure judges the reason spoken again. Clips with no voice are a
// calibration error (exit 1).
func TestReasonCheckCalibrate(t *testing.T) {
	orig := fixtureClip(t)
	dir := filepath.Dir(orig)
	quiet := filepath.Join(dir, "quiet.wav")
	silent := filepath.Join(dir, "silent.wav")
	for _, c := range [][]string{
		{"-i", orig, "-af", "volume=-20dB", "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", quiet},
		{"-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "5", "-c:a", "pcm_s16le", silent},
	} {
		if out, err := exec.Command("ffmpeg", append([]string{"-loglevel", "error", "-y"}, c...)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", c, err, out)
		}
	}
	calibrate := func(files ...string) (float64, int, string) {
		var out, errOut bytes.Buffer
		code := runReasonCheck(context.Background(), append([]string{"--calibrate", "--json"}, files...), &out, &errOut)
		var cal struct {
			Gain  float64 `json:"mic_gain_db"`
			Error string  `json:"error"`
		}
		if err := json.Unmarshal(out.Bytes(), &cal); err != nil {
			t.Fatalf("calibrate %v: %v: %s %s", files, err, out.String(), errOut.String())
		}
		return cal.Gain, code, cal.Error + errOut.String()
	}
	ref, code, msg := calibrate(orig, orig, orig)
	if code != 0 {
		t.Fatalf("calibrate on the original: exit %d: %s", code, msg)
	}
	gain, code, msg := calibrate(quiet, quiet, quiet)
	if code != 0 || gain > ref-19 || gain < ref-21 {
		t.Fatalf("calibrate 20 dB quieter: %+.1f dB (original %+.1f), exit %d: %s", gain, ref, code, msg)
	}
	verdict := func(args ...string) bool {
		var out, errOut bytes.Buffer
		if code := runReasonCheck(context.Background(), append([]string{"--json"}, args...), &out, &errOut); code != 0 {
			t.Fatalf("reason-check %v: exit %d: %s", args, code, errOut.String())
		}
		var res reasoncheck.Result
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		return res.ReasonSpoken
	}
	if verdict(quiet) {
		t.Error("20 dB quieter and uncalibrated, the reason is still judged spoken: the level rule did not bite")
	}
	if !verdict("--mic-gain", fmt.Sprint(gain), quiet) {
		t.Errorf("calibrated (%+.1f dB), the quiet recorder's reason is not judged spoken", gain)
	}
	if _, code, msg := calibrate(silent, silent, silent); code != 1 || !strings.Contains(msg, "at least 3") {
		t.Errorf("calibrating on silence: exit %d: %s", code, msg)
	}
	var out, errOut bytes.Buffer
	if code := runReasonCheck(context.Background(), []string{"--mic-gain", "45", quiet}, &out, &errOut); code != 2 {
		t.Errorf("--mic-gain 45: exit %d, want 2", code)
	}
}

// fixtureClip writes the fixture recorder's clip 4 (AAC in MP4, a reason
// spoken at its start) into a temporary directory and returns its path;
// the tests that decode it need ffmpeg (skipped without it, unless
// BERTH_REQUIRE_FFMPEG demands it).
func fixtureClip(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("BERTH_REQUIRE_FFMPEG") != "" {
			t.Fatal("ffmpeg required (BERTH_REQUIRE_FFMPEG is set) but not on PATH")
		}
		t.Skip("ffmpeg not on PATH (AAC decode)")
	}
	raw, err := fs.ReadFile(fixtures.Recorder, path.Join(fixtures.RecorderDir, "0004.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "0004.mp4")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
