package vad

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ErrRate is returned for samples not at Rate.
var ErrRate = errors.New("vad: samples must be 16 kHz mono")

// Opts tune the Detector. The defaults come from acoustics, not from a data
// set: see the package documentation for the reasoning behind each.
type Opts struct {
	// MinHarm is the normalised autocorrelation a frame needs at a 75–400 Hz
	// lag to count as voiced.
	MinHarm float64
	// MinSNR is how far (dB) a voiced frame must stand above the noise
	// floor of the speech band.
	MinSNR float64
	// NearField is the speech-band level (dBFS) the loud voiced frames of a
	// region (their 80th percentile) must reach: a talker at the
	// microphone is 20–30 dB louder than one across a room.
	NearField float64
	// BelowPeak drops regions whose loud voiced level is more than this
	// (dB) under the clip's loudest speech region: background talk while
	// the wearer speaks.
	BelowPeak float64
	// MaxGap bridges pauses between voiced frames (syllables, words) into
	// one region.
	MaxGap time.Duration
	// Hangover extends a region's edges while the level stays above the
	// floor (unvoiced consonants, decays).
	Hangover time.Duration
	// MinRun is the shortest utterance counted: wearer regions less than
	// MaxPause apart form one utterance.
	MinRun   time.Duration
	MaxPause time.Duration
	// MinVoiced is the share of a region's frames that must be voiced.
	MinVoiced float64
	// MinMod is the 2–8 Hz level modulation (dB RMS) a region needs:
	// syllables; steady tones and engines have none.
	MinMod float64
}

// DefaultOpts are the documented defaults.
var DefaultOpts = Opts{
	MinHarm:   0.6,
	MinSNR:    6,
	NearField: -35,
	BelowPeak: 20,
	MaxGap:    500 * time.Millisecond,
	Hangover:  100 * time.Millisecond,
	MinRun:    500 * time.Millisecond,
	MaxPause:  time.Second,
	MinVoiced: 0.2,
	MinMod:    1.5,
}

// Region is a stretch of speech-like sound and the judgement on it.
type Region struct {
	Start     float64 `json:"start_s"` // seconds from the clip's start
	End       float64 `json:"end_s"`
	Voiced    float64 `json:"voiced"`     // share of voiced frames
	LevelDBFS float64 `json:"level_dbfs"` // 80th percentile level of its voiced frames
	SNR       float64 `json:"snr_db"`     // that level over the noise floor
	Mod       float64 `json:"mod_db"`     // mean 2–8 Hz modulation
	Wearer    bool    `json:"wearer"`     // counted as the wearer's speech
	Why       string  `json:"why,omitempty"`
}

// Activity is the detector's answer for one clip.
type Activity struct {
	Hop       time.Duration // spacing of Speech
	Speech    []bool        // per frame: the wearer's speech
	Regions   []Region      // every candidate region, counted or not
	NoiseDBFS float64       // median noise floor of the speech band
	// SpeechDBFS is the median level of the counted regions' voiced
	// frames; NoSpeech when there are none.
	SpeechDBFS float64
}

// NoSpeech is SpeechDBFS when no speech was counted (JSON has no -Inf).
const NoSpeech = -120.0

// Detector is the pure-Go near-field voice detector.
type Detector struct{ o Opts }

// New returns a detector; nil opts means DefaultOpts.
func New(o *Opts) *Detector {
	if o == nil {
		return &Detector{o: DefaultOpts}
	}
	return &Detector{o: *o}
}

// String describes the detector.
func (d *Detector) String() string {
	return fmt.Sprintf("vad.Detector(harm≥%.2f snr≥%.0fdB near≥%.0fdBFS)", d.o.MinHarm, d.o.MinSNR, d.o.NearField)
}

// Detect finds the wearer's speech in 16 kHz mono samples.
func (d *Detector) Detect(x []float32, rate int) (Activity, error) {
	if rate != Rate {
		return Activity{}, fmt.Errorf("%w: got %d Hz", ErrRate, rate)
	}
	fr := analyse(x)
	return d.decide(fr), nil
}

func frames(t time.Duration) int { return int(math.Round(t.Seconds() / HopSeconds)) }

func (d *Detector) decide(fr []Frame) Activity {
	o := d.o
	n := len(fr)
	act := Activity{Hop: time.Duration(HopSeconds * float64(time.Second)), Speech: make([]bool, n), NoiseDBFS: NoSpeech, SpeechDBFS: NoSpeech}
	if n == 0 {
		return act
	}
	nf := make([]float64, n)
	voiced := make([]bool, n)
	for i, f := range fr {
		nf[i] = f.NoiseDB
		voiced[i] = f.Harm >= o.MinHarm && !f.HighF0 && f.LevelDB-f.NoiseDB >= o.MinSNR
	}
	act.NoiseDBFS = round1(median(nf))

	// Regions: voiced frames joined across gaps of up to MaxGap, grown by
	// the hangover while the level stays 3 dB over the floor.
	gap, hang := frames(o.MaxGap), frames(o.Hangover)
	type span struct{ a, b int } // [a, b)
	var spans []span
	for i := 0; i < n; {
		if !voiced[i] {
			i++
			continue
		}
		a, last := i, i
		for j := i + 1; j < n && j-last <= gap+1; j++ {
			if voiced[j] {
				last = j
			}
		}
		b := last + 1
		for k := 0; k < hang && a > 0 && fr[a-1].LevelDB-fr[a-1].NoiseDB >= 3; k++ {
			a--
		}
		for k := 0; k < hang && b < n && fr[b].LevelDB-fr[b].NoiseDB >= 3; k++ {
			b++
		}
		if len(spans) > 0 && a <= spans[len(spans)-1].b {
			spans[len(spans)-1].b = b
		} else {
			spans = append(spans, span{a, b})
		}
		i = b
	}

	peak := math.Inf(-1)
	regs := make([]Region, len(spans))
	for k, s := range spans {
		var lv []float64
		var mod, snr float64
		for i := s.a; i < s.b; i++ {
			mod += fr[i].Mod
			if voiced[i] {
				lv = append(lv, fr[i].LevelDB)
				snr += fr[i].LevelDB - fr[i].NoiseDB
			}
		}
		r := Region{
			Start:     round2(float64(s.a) * HopSeconds),
			End:       round2(float64(s.b) * HopSeconds),
			Voiced:    round2(float64(len(lv)) / float64(s.b-s.a)),
			LevelDBFS: round1(percentile(lv, 0.8)),
			SNR:       round1(snr / float64(len(lv))),
			Mod:       round1(mod / float64(s.b-s.a)),
		}
		switch {
		case r.Voiced < o.MinVoiced:
			r.Why = "too few voiced frames (noise, wind)"
		case r.Mod < o.MinMod:
			r.Why = "no syllabic modulation (steady tone or engine)"
		case r.LevelDBFS < o.NearField:
			r.Why = "too quiet for the wearer (distant talk)"
		default:
			r.Wearer = true
			peak = max(peak, r.LevelDBFS)
		}
		regs[k] = r
	}
	for k := range regs {
		r := &regs[k]
		if r.Wearer && r.LevelDBFS < peak-o.BelowPeak {
			r.Wearer, r.Why = false, "far below the wearer's level (background talk)"
		}
	}
	// Minimum run: a short region counts only as part of an utterance, a
	// group of wearer regions less than MaxPause apart whose extent reaches
	// MinRun. An isolated blip (a click, a gust that happened to look
	// periodic) does not.
	pause, minRun := frames(o.MaxPause), frames(o.MinRun)
	for k := 0; k < len(spans); {
		if !regs[k].Wearer {
			k++
			continue
		}
		j := k
		for m := k + 1; m < len(spans) && spans[m].a-spans[j].b <= pause; m++ {
			if regs[m].Wearer {
				j = m
			}
		}
		if spans[j].b-spans[k].a < minRun {
			for m := k; m <= j; m++ {
				if regs[m].Wearer {
					regs[m].Wearer, regs[m].Why = false, "isolated and shorter than the minimum run"
				}
			}
		}
		k = j + 1
	}
	var sp []float64
	for k, s := range spans {
		if !regs[k].Wearer {
			continue
		}
		for i := s.a; i < s.b; i++ {
			act.Speech[i] = true
			if voiced[i] {
				sp = append(sp, fr[i].LevelDB)
			}
		}
	}
	act.Regions = regs
	if len(sp) > 0 {
		act.SpeechDBFS = round1(median(sp))
	}
	return act
}

func median(v []float64) float64 { return percentile(v, 0.5) }

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return NoSpeech
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1)+0.5)]
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
func round2(v float64) float64 { return math.Round(v*100) / 100 }
