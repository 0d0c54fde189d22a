package vad

import (
	"errors"
	"fmt"
	"math"
)

// Prompt is an enrolled template of a recorder model's own voice prompt
// ("recording resumed", 开始记录, with its beeps): the same recording comes
// out of every recorder of the model through the same small speaker, so
// where a stretch of a clip follows the template's spectral shape frame by
// frame it is the prompt, whoever else speaks around it.
//
// The template is the sequence of its frames' spectral shapes (the 18
// speech-band levels less their mean: independent of the playback level),
// and its match against a clip is the correlation of the two sequences
// over the template's length. The prompt's own silence is trimmed.
type Prompt struct {
	name  string
	shape [][nBands]float64 // per active frame, band levels less their mean (dB)
	secs  float64
}

// Enrolment limits: a prompt is a short phrase; under minPromptFrames of
// sound there is too little to match on, over maxPromptSeconds it is not a
// prompt.
const (
	minPromptFrames  = 12 // 0.19 s
	maxPromptSeconds = 6.0
	// promptActiveDB: a frame of the prompt recording is part of the
	// template while within this of its loudest frame.
	promptActiveDB = 35
)

// ErrPrompt is returned for audio that cannot be enrolled as a prompt.
var ErrPrompt = errors.New("vad: bad prompt")

// NewPrompt enrols a recorder model's prompt from its audio (16 kHz mono,
// the prompt alone: a recording of the recorder's output, or the file the
// vendor ships). name says which model and prompt it is, for the verdict.
func NewPrompt(name string, samples []float32, rate int) (*Prompt, error) {
	if rate != Rate {
		return nil, fmt.Errorf("%w: got %d Hz", ErrRate, rate)
	}
	if len(samples) > int(maxPromptSeconds*Rate) {
		return nil, fmt.Errorf("%w: %q lasts %.1f s, longer than %.0f s", ErrPrompt, name, float64(len(samples))/Rate, maxPromptSeconds)
	}
	_, bands := analyseBands(samples)
	if len(bands) == 0 {
		return nil, fmt.Errorf("%w: %q is shorter than one frame", ErrPrompt, name)
	}
	lv := make([]float64, len(bands))
	peak := math.Inf(-1)
	for t, b := range bands {
		lv[t] = bandsLevel(b)
		peak = max(peak, lv[t])
	}
	a, z := 0, len(bands)
	for a < z && lv[a] < peak-promptActiveDB {
		a++
	}
	for z > a && lv[z-1] < peak-promptActiveDB {
		z--
	}
	if z-a < minPromptFrames || peak < -90 {
		return nil, fmt.Errorf("%w: %q has %d frames of sound, want at least %d", ErrPrompt, name, z-a, minPromptFrames)
	}
	p := &Prompt{name: name, secs: float64(z-a) * HopSeconds}
	for _, b := range bands[a:z] {
		p.shape = append(p.shape, shapeOf(b))
	}
	return p, nil
}

// String names the prompt.
func (p *Prompt) String() string { return fmt.Sprintf("prompt %q (%.2f s)", p.name, p.secs) }

// Name is the name the prompt was enrolled under.
func (p *Prompt) Name() string { return p.name }

// shapeOf is a frame's band levels (dB) less their mean.
func shapeOf(b [nBands]float64) [nBands]float64 {
	var s [nBands]float64
	var m float64
	for k, v := range b {
		s[k] = 10 * math.Log10(v)
		m += s[k]
	}
	m /= nBands
	for k := range s {
		s[k] -= m
	}
	return s
}

func bandsLevel(b [nBands]float64) float64 {
	var s float64
	for _, v := range b {
		s += v
	}
	return 10 * math.Log10(s/fullScale)
}

// promptMatch is MinPromptMatch's default: the correlation of the
// template's shape sequence with the clip's over the template's length.
// The prompt played back through the recorder's speaker, over street
// noise, measured 0.8 and more on the synthetic prompts of the tests; a
// talker saying other words, or the same words in another voice, stays
// far under (0.1–0.4).
const promptMatch = 0.7

// matchPrompts marks, per frame of a clip, whether it lies in a stretch
// matching an enrolled prompt at min or more, and returns for each frame
// the index of the prompt (-1: none) and the best score seen there.
func matchPrompts(bands [][nBands]float64, prompts []*Prompt, min float64) (which []int, score []float64) {
	n := len(bands)
	which = make([]int, n)
	score = make([]float64, n)
	for i := range which {
		which[i] = -1
	}
	if len(prompts) == 0 || n == 0 {
		return which, score
	}
	shapes := make([][nBands]float64, n)
	for t, b := range bands {
		shapes[t] = shapeOf(b)
	}
	for pi, p := range prompts {
		m := len(p.shape)
		if m > n {
			continue
		}
		// The template's mean and spread, once.
		var tm, tv float64
		for _, f := range p.shape {
			for _, v := range f {
				tm += v
			}
		}
		cnt := float64(m * nBands)
		tm /= cnt
		for _, f := range p.shape {
			for _, v := range f {
				tv += (v - tm) * (v - tm)
			}
		}
		for t := 0; t+m <= n; t++ {
			var cm, cv, cov float64
			for j := range m {
				for _, v := range shapes[t+j] {
					cm += v
				}
			}
			cm /= cnt
			for j, f := range p.shape {
				c := &shapes[t+j]
				for k, v := range f {
					d := c[k] - cm
					cv += d * d
					cov += (v - tm) * d
				}
			}
			r := cov / math.Sqrt(tv*cv+1e-12)
			if r < min {
				continue
			}
			for j := t; j < t+m; j++ {
				if r > score[j] {
					score[j], which[j] = r, pi
				}
			}
		}
	}
	return which, score
}
