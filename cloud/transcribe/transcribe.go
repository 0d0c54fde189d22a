// Package transcribe is the optional speech-to-text step of the
// spoken-reason check: it sends the wearer's speech (only the regions the
// detector counted as the wearer's) to an agency's OpenAI-compatible
// transcription endpoint (POST {base}/v1/audio/transcriptions, as FunASR,
// whisper.cpp's server and others offer) and classifies the transcript
// into the reasons the recording rule names (package reasoncheck shows
// both beside the verdict). It is off unless an endpoint is configured.
package transcribe

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Sentinel errors.
var (
	ErrConfig   = errors.New("transcribe: bad configuration")
	ErrStatus   = errors.New("transcribe: service answered with an error status")
	ErrResponse = errors.New("transcribe: malformed response")
	ErrTooLong  = errors.New("transcribe: audio too long")
)

// Limits.
const (
	maxResponse = 1 << 20 // bytes of a response read
	maxAudio    = 120     // seconds of audio sent
)

// Opts configure a Client. Endpoint is the service's base URL (the path
// /v1/audio/transcriptions is appended unless it already ends in it).
type Opts struct {
	Endpoint string
	Model    string        // model name the service expects (default "whisper-1")
	APIKey   string        // sent as a Bearer token when set
	Language string        // optional ISO-639-1 hint ("zh", "en")
	Timeout  time.Duration // per request (default 30 s)
	// HTTP is the client used (default a client with Timeout).
	HTTP *http.Client
}

// Client calls one transcription endpoint.
type Client struct {
	url string
	o   Opts
	hc  *http.Client
}

// New checks the options and returns a client.
func New(o Opts) (*Client, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: endpoint %q", ErrConfig, o.Endpoint)
	}
	if !strings.HasSuffix(u.Path, "/audio/transcriptions") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/audio/transcriptions"
	}
	if o.Model == "" {
		o.Model = "whisper-1"
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: o.Timeout}
	}
	return &Client{url: u.String(), o: o, hc: hc}, nil
}

// String names the endpoint (never the key).
func (c *Client) String() string { return fmt.Sprintf("transcribe.Client(%s, %s)", c.url, c.o.Model) }

// Transcribe sends mono samples at rate Hz as a 16-bit WAV and returns the
// transcript.
func (c *Client) Transcribe(ctx context.Context, samples []float32, rate int) (string, error) {
	if rate <= 0 || len(samples) > maxAudio*rate {
		return "", fmt.Errorf("%w: %d samples at %d Hz", ErrTooLong, len(samples), rate)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "speech.wav")
	if err != nil {
		return "", err
	}
	if _, err := fw.Write(WAV(samples, rate)); err != nil {
		return "", err
	}
	fields := [][2]string{{"model", c.o.Model}, {"response_format", "json"}}
	if c.o.Language != "" {
		fields = append(fields, [2]string{"language", c.o.Language})
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return "", err
		}
	}
	if err := mw.Close(); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, &body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if c.o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.APIKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("transcribe: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return "", fmt.Errorf("transcribe: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: %s: %.200s", ErrStatus, resp.Status, b)
	}
	if len(b) > maxResponse {
		return "", fmt.Errorf("%w: over %d bytes", ErrResponse, maxResponse)
	}
	var r struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Text == nil {
		return "", fmt.Errorf("%w: %.200s", ErrResponse, b)
	}
	return strings.TrimSpace(*r.Text), nil
}

// WAV encodes mono samples (full scale ±1) as a 16-bit PCM WAV file.
func WAV(samples []float32, rate int) []byte {
	n := len(samples)
	b := make([]byte, 44+2*n)
	le := binary.LittleEndian
	copy(b, "RIFF")
	le.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	le.PutUint32(b[16:], 16)
	le.PutUint16(b[20:], 1) // PCM
	le.PutUint16(b[22:], 1) // mono
	le.PutUint32(b[24:], uint32(rate))
	le.PutUint32(b[28:], uint32(2*rate))
	le.PutUint16(b[32:], 2)
	le.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(2*n))
	for i, v := range samples {
		s := math.Round(float64(v) * 32767)
		s = max(-32768, min(32767, s))
		le.PutUint16(b[44+2*i:], uint16(int16(s)))
	}
	return b
}
