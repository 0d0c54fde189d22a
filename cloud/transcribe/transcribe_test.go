package transcribe

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// standIn is a local OpenAI-compatible transcription endpoint: it checks
// the request's shape and answers with a fixed transcript.
type standIn struct {
	t       *testing.T
	status  int
	answer  string
	samples int // samples in the last WAV received
	fields  map[string]string
	auth    string
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	s.auth = r.Header.Get("Authorization")
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.fields = map[string]string{}
	for k, v := range r.MultipartForm.Value {
		s.fields[k] = v[0]
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, "no file", http.StatusBadRequest)
		return
	}
	b, _ := io.ReadAll(f)
	if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" || binary.LittleEndian.Uint32(b[24:]) != 16000 {
		http.Error(w, "not a 16 kHz WAV", http.StatusBadRequest)
		return
	}
	s.samples = int(binary.LittleEndian.Uint32(b[40:])) / 2
	w.Header().Set("Content-Type", "application/json")
	if s.status != 0 {
		w.WriteHeader(s.status)
	}
	io.WriteString(w, s.answer)
}

func TestTranscribe(t *testing.T) {
	si := &standIn{t: t, answer: `{"text":" 电量不足，设备自动关机，现在恢复录像 "}`}
	srv := httptest.NewServer(si)
	t.Cleanup(srv.Close)
	c, err := New(Opts{Endpoint: srv.URL, Model: "paraformer-zh", APIKey: "k1", Language: "zh"})
	if err != nil {
		t.Fatal(err)
	}
	text, err := c.Transcribe(context.Background(), make([]float32, 16000), 16000)
	if err != nil {
		t.Fatal(err)
	}
	if text != "电量不足，设备自动关机，现在恢复录像" {
		t.Errorf("text %q", text)
	}
	if si.samples != 16000 || si.fields["model"] != "paraformer-zh" || si.fields["response_format"] != "json" ||
		si.fields["language"] != "zh" || si.auth != "Bearer k1" {
		t.Errorf("request: %d samples, fields %v, auth %q", si.samples, si.fields, si.auth)
	}
	if strings.Contains(c.String(), "k1") {
		t.Errorf("String() shows the key: %s", c)
	}
}

func TestTranscribeErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		answer string
		want   error
	}{
		{"server error", http.StatusInternalServerError, `{"error":"model not loaded"}`, ErrStatus},
		{"not JSON", 0, `<html>`, ErrResponse},
		{"no text", 0, `{"segments":[]}`, ErrResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(&standIn{t: t, status: tc.status, answer: tc.answer})
			t.Cleanup(srv.Close)
			c, err := New(Opts{Endpoint: srv.URL + "/v1/audio/transcriptions"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Transcribe(context.Background(), make([]float32, 1600), 16000); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := New(Opts{Endpoint: "ftp://x"}); !errors.Is(err, ErrConfig) {
		t.Errorf("ftp endpoint: %v", err)
	}
	c, _ := New(Opts{Endpoint: "http://127.0.0.1:1"})
	if _, err := c.Transcribe(context.Background(), make([]float32, 16000*121), 16000); !errors.Is(err, ErrTooLong) {
		t.Errorf("121 s of audio: %v", err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"电量不足，设备自动关机", []string{ReasonBattery}},
		{"存储空间不足，换了一张卡", []string{ReasonStorage}},
		{"记录仪故障，重启后恢复", []string{ReasonFault}},
		{"摔坏了，外壳损坏", []string{ReasonFault, ReasonDamage}},
		{"下暴雨，先停止录像", []string{ReasonWeather}},
		{"现在转移到另一个场所继续执法", []string{ReasonPlace}},
		{"The battery ran low so the camera stopped", []string{ReasonBattery}},
		{"Heavy rain, we stopped recording", []string{ReasonWeather}},
		{"We are moving to another location", []string{ReasonPlace}},
		{"Please step back from the train window", nil},
		{"你好，请出示身份证", nil},
	} {
		if got := Classify(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("Classify(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}
