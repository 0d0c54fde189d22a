package collector

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/audio"
	"github.com/berthdock/berth/cloud/reasoncheck"
	"github.com/berthdock/berth/firmware-protocol/recsim/fixtures"
)

// TestReasonCheckPerModel: a mixed fleet. The fixture recorder's clip 4 (a
// reason spoken at its start) played through a model whose microphone
// records 20 dB quieter is judged no reason with the fleet's calibration,
// and spoken with that model's own (measured on three of its clips, as
// `collector reason-check --calibrate` does); a recording of any other
// model, or of a recorder that never reported one, keeps the fleet's.
func TestReasonCheckPerModel(t *testing.T) {
	raw := FixtureClip4(t)
	dir := t.TempDir()
	orig, quietPath := filepath.Join(dir, "0004.mp4"), filepath.Join(dir, "quiet.wav")
	if err := os.WriteFile(orig, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ffmpeg", "-loglevel", "error", "-y", "-i", orig, "-af", "volume=-20dB",
		"-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", quietPath).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	quiet, err := os.ReadFile(quietPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clip, err := audio.Decode(ctx, bytes.NewReader(quiet), int64(len(quiet)), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := reasoncheck.Calibrate(ctx, []*audio.Clip{clip, clip, clip}, reasoncheck.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := newReasonChecker(nil, 0, map[string]float64{"QUIET-1": cal.MicGainDB}, "fleet", "models")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		model  string
		spoken bool
		says   string
	}{
		{"QUIET-1", true, "model QUIET-1's microphone calibration"},
		{"BWC-7", false, "the fleet's microphone calibration"},
		{"", false, "the fleet's microphone calibration"},
	} {
		v, err := r.Check(ctx, bytes.NewReader(quiet), int64(len(quiet)), tc.model, 30*time.Second, 2*time.Second)
		if err != nil {
			t.Fatalf("model %q: %v", tc.model, err)
		}
		if v.Spoken != tc.spoken || !strings.Contains(v.Detail, tc.says) {
			t.Errorf("model %q (calibrated %+.1f dB): spoken %v (%s); want %v, saying %q", tc.model, cal.MicGainDB, v.Spoken, v.Detail, tc.spoken, tc.says)
		}
	}
}

// FixtureClip4 is the fixture recorder's clip 4 (AAC in MP4, a reason
// spoken at its start); the test skips without ffmpeg to decode it
// (fails, if BERTH_REQUIRE_FFMPEG demands it).
func FixtureClip4(tb testing.TB) []byte {
	tb.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("BERTH_REQUIRE_FFMPEG") != "" {
			tb.Fatal("ffmpeg required (BERTH_REQUIRE_FFMPEG is set) but not on PATH")
		}
		tb.Skip("ffmpeg not on PATH (AAC decode)")
	}
	raw, err := fs.ReadFile(fixtures.Recorder, path.Join(fixtures.RecorderDir, "0004.mp4"))
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}
