package reasoncheck

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/berthdock/berth/cloud/audio"
	"github.com/berthdock/berth/cloud/transcribe"
)

// TestTranscribedReason runs the check with a transcription service (a
// local stand-in speaking the OpenAI-compatible API): only the wearer's
// speech is sent, the transcript is classified into the rule's reasons,
// and a failing service leaves the verdict standing with the error shown.
// Without a transcriber nothing is sent.
func TestTranscribedReason(t *testing.T) {
	var calls, samples atomic.Int64
	fail := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		f, _, err := r.FormFile("file")
		if err != nil || r.URL.Path != "/v1/audio/transcriptions" || r.FormValue("model") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(f)
		if len(b) < 44 {
			http.Error(w, "short", http.StatusBadRequest)
			return
		}
		samples.Store(int64(binary.LittleEndian.Uint32(b[40:]) / 2))
		if fail.Load() {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"text":"存储空间不足，换卡后恢复录像"}`)
	}))
	t.Cleanup(srv.Close)
	tr, err := transcribe.New(transcribe.Opts{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	// The wearer from 2 s to 6 s; a distant talker from 8 s to 11 s (not
	// the wearer's: it must not be sent).
	x := make([]float32, 12*sr)
	noise(x, 1, -50, 41)
	voice(x, 2, 4, 150, -14, 42)
	voice(x, 8, 3, 200, -40, 43)
	gain(x, scene)
	clip := &audio.Clip{Rate: sr, Samples: x, Channels: 1, Codec: "test"}

	res, err := New(nil).CheckClip(context.Background(), clip, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 0 || res.Transcript != "" {
		t.Fatalf("no transcriber configured, yet %d calls, transcript %q", calls.Load(), res.Transcript)
	}

	c := NewWithOpts(Opts{Transcriber: tr})
	res, err = c.CheckClip(context.Background(), clip, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ReasonSpoken || res.Transcript != "存储空间不足，换卡后恢复录像" || !slices.Equal(res.StatedReasons, []string{transcribe.ReasonStorage}) {
		t.Errorf("spoken %v, transcript %q, reasons %v", res.ReasonSpoken, res.Transcript, res.StatedReasons)
	}
	if sent := float64(samples.Load()) / sr; math.Abs(sent-res.SpeechSeconds) > 0.05 {
		t.Errorf("sent %.2f s of audio, the wearer spoke %.2f s: only the wearer's speech may be sent", sent, res.SpeechSeconds)
	}

	fail.Store(true)
	res, err = c.CheckClip(context.Background(), clip, Policy{})
	if err != nil || !res.ReasonSpoken || res.Transcript != "" || res.TranscriptError == "" {
		t.Errorf("service down: err %v, spoken %v, transcript %q, error %q", err, res.ReasonSpoken, res.Transcript, res.TranscriptError)
	}
}
