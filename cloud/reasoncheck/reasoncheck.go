// Package reasoncheck is berth's spoken-reason check: given the footage of a
// recording resumed after an interruption, it decodes the opening window
// (package audio), finds the wearer's own near-field speech in it (a
// Detector, by default the pure-Go package vad) and decides whether a reason
// was spoken: at least Policy.MinSpeech of wearer speech within
// Policy.Window (defaults 2 s in 30 s).
//
// The Result carries the evidence a supervisor needs to judge in a minute:
// speech seconds, onset, noise floor and speech levels, a per-second trace
// of the share of each second that was wearer speech, and every candidate
// region with the reason it was or was not counted (the recorder's own
// voice prompt is too short to reach the minimum; distant talk is too quiet;
// sirens and engines are tonal or steady; wind is unvoiced).
//
// The analysis engine (package analysis) calls Check with the unit's
// policy; `collector reason-check` runs it on files.
package reasoncheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/berthdock/berth/cloud/audio"
	"github.com/berthdock/berth/cloud/transcribe"
	"github.com/berthdock/berth/cloud/vad"
)

// ErrBadPolicy is returned for a window or minimum that makes no sense.
var ErrBadPolicy = errors.New("reasoncheck: bad policy")

// Detector finds the wearer's speech in mono samples. *vad.Detector is the
// default; another (a neural VAD over a service) can be put in its place.
type Detector interface {
	Detect(samples []float32, rate int) (vad.Activity, error)
}

// Transcriber turns the wearer's speech into text (package transcribe's
// Client, over an OpenAI-compatible transcription endpoint).
type Transcriber interface {
	Transcribe(ctx context.Context, samples []float32, rate int) (string, error)
}

// Policy of the check. Zero fields take the defaults.
type Policy struct {
	Window    time.Duration // opening window analysed (default 30 s)
	MinSpeech time.Duration // wearer speech needed (default 2 s)
}

// DefaultPolicy is 2 s of wearer speech in the first 30 s.
func DefaultPolicy() Policy { return Policy{Window: 30 * time.Second, MinSpeech: 2 * time.Second} }

func (p Policy) withDefaults() (Policy, error) {
	d := DefaultPolicy()
	if p.Window == 0 {
		p.Window = d.Window
	}
	if p.MinSpeech == 0 {
		p.MinSpeech = d.MinSpeech
	}
	if p.Window < 0 || p.Window > audio.MaxDuration || p.MinSpeech < 0 || p.MinSpeech > p.Window {
		return p, fmt.Errorf("%w: window %s, minimum speech %s", ErrBadPolicy, p.Window, p.MinSpeech)
	}
	return p, nil
}

// Result of one check. It is JSON-serialisable (no NaN or Inf: levels use
// vad.NoSpeech, the onset -1, when there is no speech).
type Result struct {
	ReasonSpoken  bool    `json:"reason_spoken"`
	SpeechSeconds float64 `json:"speech_seconds"`
	// OnsetSeconds is when the wearer's speech first starts in the window;
	// -1 when there is none.
	OnsetSeconds     float64 `json:"onset_s"`
	NoiseDBFS        float64 `json:"noise_dbfs"`  // median noise floor, 125–4000 Hz
	SpeechDBFS       float64 `json:"speech_dbfs"` // median level of the wearer's voiced frames
	WindowSeconds    float64 `json:"window_s"`    // audio analysed (the window, or less if the clip is shorter)
	MinSpeechSeconds float64 `json:"min_speech_s"`
	// Activity holds, per second of the window, the share of that second
	// that was wearer speech (0..1).
	Activity []float64    `json:"activity"`
	Regions  []vad.Region `json:"regions"`
	Codec    string       `json:"codec"`
	Rate     int          `json:"source_rate"`
	Detector string       `json:"detector"`
	// Transcript is what the transcription service heard in the wearer's
	// regions (only them: bystanders, radios and prompts are not sent),
	// and StatedReasons the rule's reasons it names; empty unless a
	// Transcriber is configured. TranscriptError says why there is none
	// when the service failed (the verdict stands without it).
	Transcript      string   `json:"transcript,omitempty"`
	StatedReasons   []string `json:"stated_reasons,omitempty"`
	TranscriptError string   `json:"transcript_error,omitempty"`
}

// Checker runs the check. It holds no per-call state; one Checker may be
// used from several goroutines if its Detector may (vad.Detector may).
type Checker struct {
	det Detector
	tr  Transcriber
	// vo are the default detector's options (nil for a Detector of the
	// caller's): a recording made at a lower rate gets a detector told
	// how much of the band it holds (narrowFor).
	vo *vad.Opts
}

// New returns a checker using det; nil means vad.New(nil).
func New(det Detector) *Checker { return NewWithOpts(Opts{Detector: det}) }

// Opts configure a Checker.
type Opts struct {
	Detector Detector // nil: vad.New(nil)
	// Transcriber, when set, transcribes the wearer's speech and the
	// transcript is classified into the rule's reasons; nil (the default)
	// sends nothing anywhere.
	Transcriber Transcriber
	// Prompts are the recorder models' enrolled voice prompts
	// (LoadPrompt) given to the default detector: what matches one is
	// judged the prompt, not the wearer. Used only when Detector is nil.
	Prompts []*vad.Prompt
	// MicGainDB is the fleet's microphone calibration (see Calibrate):
	// how many dB louder its recorders record the same voice at the same
	// distance than the reference the default detector's level rule is
	// set for. Used only when Detector is nil.
	MicGainDB float64
}

// NewWithOpts returns a checker configured by o.
func NewWithOpts(o Opts) *Checker {
	c := &Checker{det: o.Detector, tr: o.Transcriber}
	if o.Detector == nil {
		c.vo = detectorOpts(o.Prompts, o.MicGainDB)
		c.det = vad.New(c.vo)
	}
	return c
}

// narrowFor is the detector for a recording made at rate Hz: the default
// detector told the highest frequency such a recording holds (95% of its
// Nyquist: converters roll off before it) when that is under the
// fricative band's top; else the checker's own.
func (c *Checker) narrowFor(rate int) Detector {
	top := 0.95 * float64(rate) / 2
	if c.vo == nil || rate <= 0 || top >= vad.FricHiHz {
		return c.det
	}
	vo := *c.vo
	vo.SourceTopHz = top
	return vad.New(&vo)
}

// detectorOpts are the default detector's options for a fleet whose
// microphones record gainDB louder than the reference: the near-field
// level moves with it; every other rule compares levels within the clip.
func detectorOpts(prompts []*vad.Prompt, gainDB float64) *vad.Opts {
	vo := vad.DefaultOpts
	vo.Prompts = prompts
	vo.NearField += gainDB
	return &vo
}

// Check decodes the opening window of a WAV or MP4 file (r, size) and
// judges it under policy p (zero fields: defaults).
func (c *Checker) Check(ctx context.Context, r io.ReaderAt, size int64, p Policy) (Result, error) {
	p, err := p.withDefaults()
	if err != nil {
		return Result{}, err
	}
	clip, err := audio.Decode(ctx, r, size, p.Window)
	if err != nil {
		return Result{}, fmt.Errorf("reasoncheck: decode: %w", err)
	}
	return c.CheckClip(ctx, clip, p)
}

// CheckClip judges decoded audio (resampled to 16 kHz here if needed; only
// its first p.Window is used).
func (c *Checker) CheckClip(ctx context.Context, clip *audio.Clip, p Policy) (Result, error) {
	p, err := p.withDefaults()
	if err != nil {
		return Result{}, err
	}
	if clip == nil || len(clip.Samples) == 0 {
		return Result{}, fmt.Errorf("reasoncheck: %w", audio.ErrNoAudio)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	src := clip
	clip = audio.Resample(clip, vad.Rate)
	if n := int(p.Window.Seconds() * float64(clip.Rate)); len(clip.Samples) > n {
		clip = &audio.Clip{Rate: clip.Rate, Samples: clip.Samples[:n], Channels: clip.Channels, Codec: clip.Codec}
	}
	act, err := c.narrowFor(src.Rate).Detect(clip.Samples, clip.Rate)
	if err != nil {
		return Result{}, fmt.Errorf("reasoncheck: detect: %w", err)
	}
	res := Result{
		OnsetSeconds:     -1,
		NoiseDBFS:        act.NoiseDBFS,
		SpeechDBFS:       act.SpeechDBFS,
		WindowSeconds:    round2(float64(len(clip.Samples)) / float64(clip.Rate)),
		MinSpeechSeconds: p.MinSpeech.Seconds(),
		Regions:          act.Regions,
		Codec:            src.Codec,
		Rate:             src.Rate,
		Detector:         fmt.Sprint(c.narrowFor(src.Rate)),
	}
	if res.Regions == nil {
		res.Regions = []vad.Region{}
	}
	hop := act.Hop.Seconds()
	secs := int(math.Ceil(res.WindowSeconds))
	speech := make([]float64, secs)
	count := make([]float64, secs)
	n := 0
	for i, s := range act.Speech {
		t := (float64(i) + 0.5) * hop // frame centre
		k := min(int(t), secs-1)
		count[k]++
		if s {
			n++
			speech[k]++
			if res.OnsetSeconds < 0 {
				res.OnsetSeconds = round2(float64(i) * hop)
			}
		}
	}
	res.Activity = make([]float64, secs)
	for k := range secs {
		if count[k] > 0 {
			res.Activity[k] = round2(speech[k] / count[k])
		}
	}
	res.SpeechSeconds = round2(float64(n) * hop)
	res.ReasonSpoken = res.SpeechSeconds >= p.MinSpeech.Seconds()
	if c.tr != nil && n > 0 {
		c.transcribe(ctx, &res, clip, act)
	}
	return res, nil
}

// transcribe sends the wearer's frames only (each frame's hop of samples)
// and classifies what comes back.
func (c *Checker) transcribe(ctx context.Context, res *Result, clip *audio.Clip, act vad.Activity) {
	step := int(act.Hop.Seconds()*float64(clip.Rate) + 0.5)
	var wearer []float32
	for i, s := range act.Speech {
		if s {
			a := min(i*step, len(clip.Samples))
			wearer = append(wearer, clip.Samples[a:min(a+step, len(clip.Samples))]...)
		}
	}
	text, err := c.tr.Transcribe(ctx, wearer, clip.Rate)
	if err != nil {
		res.TranscriptError = err.Error()
		return
	}
	res.Transcript = text
	res.StatedReasons = transcribe.Classify(text)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
