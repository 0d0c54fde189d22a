package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"

	"github.com/berthdock/berth/cloud/reasoncheck"
	"github.com/berthdock/berth/firmware-protocol/recsim/fixtures"
)

// TestReasonCheckJSON runs `collector reason-check --json` on the fixture
// recorder's clip 4 (AAC in MP4, a reason spoken at its start) and checks
// that the verdict lists the regions heard, each with its judged source
// and why.
func TestReasonCheckJSON(t *testing.T) {
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
