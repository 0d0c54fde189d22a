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
	// microphone is 20–30 dB louder than one across a room. The figure
	// is the microphone's: a fleet whose recorders record louder or
	// quieter than the reference moves it (reasoncheck.Calibrate,
	// reasoncheck.Opts.MicGainDB).
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
	// PromptLow is the low-band level (Region.LowDB, dB re 300–3400 Hz)
	// under which a voice comes from a tiny loudspeaker (the recorder's
	// own prompt): a mouth puts its fundamental and body under 300 Hz, a
	// speaker of a few centimetres radiates almost nothing there.
	PromptLow float64
	// BandLimit is the sum of the low-band level and the fricative level
	// (Region.LowDB + Region.Fric) under which a voice is judged to come
	// through a loudspeaker (radio, TV, a phone): cut at both ends of the
	// telephone band, where a talker in the room has a body under 300 Hz
	// or fricatives over 3.4 kHz.
	BandLimit float64
	// HeldPitch is the median pitch change between consecutive voiced
	// frames (semitones per 16 ms frame) under which a region holds its
	// notes: music (or a siren). Speech intonation glides.
	HeldPitch float64
	// HeldSpectrum is the median over a region's voiced frames of
	// Frame.Held (how closely the fine spectrum recurs 128–320 ms away)
	// at or over which the region holds notes or chords: music, even with
	// a vibrato lead whose pitch moves too much for HeldPitch. Speech,
	// near or reverberant, stays under it: its harmonics and formants
	// move on every syllable.
	HeldSpectrum float64
	// Prompts are the enrolled prompts of the recorder models in use
	// (NewPrompt): a stretch matching one is the prompt, not speech time,
	// and a region mostly made of it is judged SourcePrompt whatever its
	// other measures. None by default.
	Prompts []*Prompt
	// MinPromptMatch is the correlation with a prompt's template (see
	// Prompt) at or over which a stretch is that prompt; 0 means the
	// default, 0.7.
	MinPromptMatch float64
	// Background is how far (dB) under its region's level (Region.
	// LevelDBFS) a frame is judged background, not the wearer: talk 2.5 m
	// and more away (20 log10(2.5/0.25) = 20 dB under a mouth at 25 cm),
	// a room's reverberant tail after the wearer's words. It is speech
	// time only inside a pause bridged between the wearer's frames. The
	// wearer's own weak syllables and word ends reach 15–20 dB under the
	// loud ones: a smaller figure cuts them (a 2.4 s statement measured
	// under 2 s at 12–15 dB on the development set).
	Background float64
	// QuietDrop splits a region at every stretch at least MaxGap long in
	// which no sound comes within this many dB (the loudest frame within
	// ±quietHalf) of the region's loud syllables (the 99th percentile of
	// its voiced frames' levels). While the wearer talks, a syllable near the
	// voice's level recurs 3–6 times a second; a half-second with none is
	// a pause of the wearer's filled by something else (a crowd's babble,
	// a bystander) whose voiced frames joined it into the region. Such a
	// stretch is a region of its own, judged a bystander whatever its own
	// level; 0 disables the rule. A voice's stressed and weak syllables
	// differ by 10–15 dB, but over a second of talk the loudest stays
	// within about 10 dB of the loudest syllables. On the development
	// sets 10–12 dB cut a crowd out of the one word it surrounded; 14 dB
	// did not.
	QuietDrop float64
	// SourceTopHz is the highest frequency the recording holds, when it
	// was made at a lower rate than Rate (half of an 8 kHz G.711 or AAC
	// recording's rate, less its converter's roll-off); 0 means the
	// whole analysis band. Such a recording holds only part of the
	// fricative band (3.4–7.5 kHz), so BandLimit is lowered by that part's
	// share of the band (see bandLimit). Under FricLoHz+100 Hz nothing
	// above the telephone band is held and the band-limit rule is off.
	SourceTopHz float64
	// BridgeGap is the longest pause bridged when a wearer region's
	// speech time is counted (Region.SpeechSeconds). A region holds no
	// pause longer than MaxGap, so a BridgeGap over MaxGap acts as MaxGap.
	BridgeGap time.Duration
}

// DefaultOpts are the documented defaults.
var DefaultOpts = Opts{
	MinHarm:   0.6,
	MinSNR:    6,
	NearField: -22,
	BelowPeak: 20,
	MaxGap:    500 * time.Millisecond,
	Hangover:  100 * time.Millisecond,
	MinRun:    500 * time.Millisecond,
	MaxPause:  time.Second,
	MinVoiced: 0.2,
	MinMod:    1.5,
	PromptLow: -18,
	BandLimit: -23,
	HeldPitch: 0.05,
	// Music (with or without a vibrato lead) measured 0.91–0.97 and
	// speech at most 0.86 (a wearer in wind, a horn in traffic) on the
	// development sets; the threshold sits between the tuning part's
	// extremes.
	HeldSpectrum: 0.89,
	Background:   20,
	QuietDrop:    12,
	BridgeGap:    500 * time.Millisecond,
}

// The sources a region can be judged to be.
const (
	SourceWearer      = "wearer"
	SourceBystander   = "bystander"
	SourceLoudspeaker = "loudspeaker"
	SourceMusic       = "music"
	SourcePrompt      = "prompt"
	SourceNoise       = "noise"
)

// Region is a stretch of speech-like sound and the judgement on it.
type Region struct {
	Start     float64 `json:"start_s"` // seconds from the clip's start
	End       float64 `json:"end_s"`
	Voiced    float64 `json:"voiced"`     // share of voiced frames
	LevelDBFS float64 `json:"level_dbfs"` // 80th percentile level of its voiced frames
	SNR       float64 `json:"snr_db"`     // that level over the noise floor
	Mod       float64 `json:"mod_db"`     // mean 2–8 Hz modulation
	// LowDB is the median over the voiced frames of the 62–300 Hz level
	// relative to 300–3400 Hz; Fric the 90th percentile, over the frames
	// 6 dB above the floor, of the 3.4–7.5 kHz level relative to
	// 300–3400 Hz (see Frame.LowDB).
	LowDB float64 `json:"low_db"`
	Fric  float64 `json:"fric_db"`
	// Glide is the median pitch change between consecutive voiced frames,
	// in semitones per 16 ms frame; NoGlide when fewer than 3 pairs.
	Glide float64 `json:"glide_st"`
	// Held is the median over the voiced frames of Frame.Held, less those
	// with a tone notched out (what the notch leaves of a siren recurs);
	// 0 when there are none.
	Held float64 `json:"held"`
	// Tone is the share of the region's frames holding a tone over 400 Hz
	// (a siren, a horn, a beep).
	Tone float64 `json:"tone"`
	// Source is what the region was judged to be (Source*), Why on which
	// evidence.
	Source string `json:"source"`
	Why    string `json:"why"`
	Wearer bool   `json:"wearer"` // counted as the wearer's speech
	// SpeechSeconds is the wearer's speech time in the region when it is
	// counted: its active frames, with pauses under Opts.BridgeGap
	// bridged (not the span with its beeps and pauses); 0 otherwise.
	SpeechSeconds float64 `json:"speech_s"`
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

// NoGlide is Region.Glide when too few voiced frames follow each other.
const NoGlide = -1.0

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
	band := fmt.Sprintf("band>%.0fdB", d.o.bandLimit())
	if !d.o.bandMeasured() {
		band = "band=unmeasured"
	}
	return fmt.Sprintf("vad.Detector(harm≥%.2f snr≥%.0fdB near≥%.0fdBFS %s prompts=%d)", d.o.MinHarm, d.o.MinSNR, d.o.NearField, band, len(d.o.Prompts))
}

// Detect finds the wearer's speech in 16 kHz mono samples.
func (d *Detector) Detect(x []float32, rate int) (Activity, error) {
	if rate != Rate {
		return Activity{}, fmt.Errorf("%w: got %d Hz", ErrRate, rate)
	}
	if len(d.o.Prompts) == 0 {
		return d.decide(analyse(x)), nil
	}
	fr, bands := analyseBands(x)
	min := d.o.MinPromptMatch
	if min == 0 {
		min = promptMatch
	}
	which, score := matchPrompts(bands, d.o.Prompts, min)
	return d.decideWith(fr, which, score), nil
}

// voiced is the frame rule: periodic at a voice's pitch (not a tone over
// 400 Hz), and far enough over the noise floor.
func (o Opts) voiced(f Frame) bool {
	return f.Harm >= o.MinHarm && !f.HighF0 && f.LevelDB-f.NoiseDB >= o.MinSNR
}

// classify judges a region on its own measures (the rules that compare
// regions, BelowPeak and MinRun, are applied after): it sets Source, Why
// and Wearer.
func (o Opts) classify(r *Region) {
	r.Source, r.Wearer = SourceWearer, false
	switch {
	case r.Voiced < o.MinVoiced:
		r.Source, r.Why = SourceNoise, fmt.Sprintf("voiced %.2f < %.2f: noise, wind", r.Voiced, o.MinVoiced)
	case r.Mod < o.MinMod:
		r.Source, r.Why = SourceNoise, fmt.Sprintf("syllabic modulation %.1f dB < %.1f: a steady tone or engine", r.Mod, o.MinMod)
	case r.LowDB < o.PromptLow:
		r.Source, r.Why = SourcePrompt, fmt.Sprintf("nothing under 300 Hz (%.1f dB < %.0f): a tiny loudspeaker, the recorder's prompt", r.LowDB, o.PromptLow)
	case o.bandMeasured() && r.LowDB+r.Fric < o.bandLimit():
		r.Source, r.Why = SourceLoudspeaker, fmt.Sprintf("band-limited: under 300 Hz %.1f dB, fricatives %.1f dB (sum < %.0f%s): radio, TV or a phone", r.LowDB, r.Fric, o.bandLimit(), o.bandNote())
	case r.Glide != NoGlide && r.Glide < o.HeldPitch:
		r.Source, r.Why = SourceMusic, fmt.Sprintf("held pitch (%.2f semitones a frame < %.2f): notes, not intonation", r.Glide, o.HeldPitch)
	case r.Held >= o.HeldSpectrum && r.Tone < toneShare:
		r.Source, r.Why = SourceMusic, fmt.Sprintf("held spectrum (recurs at %.2f ≥ %.2f within 0.3 s): notes and chords, not syllables", r.Held, o.HeldSpectrum)
	case r.LevelDBFS < o.NearField:
		r.Source, r.Why = SourceBystander, fmt.Sprintf("level %.1f dBFS < %.0f: too far from the microphone for the wearer", r.LevelDBFS, o.NearField)
	default:
		r.Wearer = true
		r.Why = fmt.Sprintf("near-field voice: level %.1f dBFS, under 300 Hz %.1f dB, fricatives %.1f dB, gliding pitch %.2f", r.LevelDBFS, r.LowDB, r.Fric, r.Glide)
	}
}

// The fricative band (Frame.HighDB), Hz.
const (
	FricLoHz = 3400.0
	FricHiHz = 7500.0
)

// bandMeasured: the recording holds enough of the fricative band for the
// band-limit rule.
func (o Opts) bandMeasured() bool { return o.SourceTopHz == 0 || o.SourceTopHz >= FricLoHz+100 }

// bandLimit is BandLimit for a recording that holds the fricative band up
// to SourceTopHz only: lowered by the share of the band it holds, as if a
// talker's fricatives were spread evenly over it. They rise towards 8 kHz,
// so a narrow recording loses more than that: the rule stays cautious, and
// a wearer it takes for a loudspeaker counts as no reason (an alert a
// supervisor reviews), never the other way round.
func (o Opts) bandLimit() float64 {
	if o.SourceTopHz == 0 || o.SourceTopHz >= FricHiHz {
		return o.BandLimit
	}
	return o.BandLimit + 10*math.Log10((o.SourceTopHz-FricLoHz)/(FricHiHz-FricLoHz))
}

func (o Opts) bandNote() string {
	if o.SourceTopHz == 0 || o.SourceTopHz >= FricHiHz {
		return ""
	}
	return fmt.Sprintf(", the recording holds up to %.0f Hz", o.SourceTopHz)
}

func frames(t time.Duration) int { return int(math.Round(t.Seconds() / HopSeconds)) }

func (d *Detector) decide(fr []Frame) Activity { return d.decideWith(fr, nil, nil) }

// decideWith judges the frames; prompt[i] is the index in Opts.Prompts of
// the prompt frame i matched at score[i] (-1: none), or prompt is nil.
func (d *Detector) decideWith(fr []Frame, prompt []int, score []float64) Activity {
	o := d.o
	isPrompt := func(i int) bool { return prompt != nil && prompt[i] >= 0 }
	n := len(fr)
	act := Activity{Hop: time.Duration(HopSeconds * float64(time.Second)), Speech: make([]bool, n), NoiseDBFS: NoSpeech, SpeechDBFS: NoSpeech}
	if n == 0 {
		return act
	}
	nf := make([]float64, n)
	voiced := make([]bool, n)
	for i, f := range fr {
		nf[i] = f.NoiseDB
		voiced[i] = o.voiced(f)
	}
	act.NoiseDBFS = round1(median(nf))

	// Regions: voiced frames joined across gaps of up to MaxGap, grown by
	// the hangover while the level stays 3 dB over the floor.
	gap, hang := frames(o.MaxGap), frames(o.Hangover)
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

	// A stretch matching an enrolled prompt is a region of its own, so
	// the wearer speaking right after the prompt is judged on their own.
	if prompt != nil {
		var cut []span
		for _, s := range spans {
			for a := s.a; a < s.b; {
				b := a + 1
				for b < s.b && isPrompt(b) == isPrompt(a) {
					b++
				}
				keep := isPrompt(a)
				for i := a; i < b && !keep; i++ {
					keep = voiced[i]
				}
				if keep {
					cut = append(cut, span{a, b})
				}
				a = b
			}
		}
		spans = cut
	}

	// quietRef[k] > NoSpeech: spans[k] is a quiet stretch cut out of a
	// region whose loud syllables stand at that level.
	spans, quietRef := o.splitQuiet(fr, voiced, spans)

	peak := math.Inf(-1)
	regs := make([]Region, len(spans))
	for k, s := range spans {
		r := regionStats(fr, voiced, s.a, s.b)
		o.classify(&r)
		switch {
		case quietRef[k] > NoSpeech && r.Wearer:
			r.Source, r.Wearer = SourceBystander, false
			r.Why = fmt.Sprintf("%.1f s with nothing within %.0f dB of the loud syllables around it (%.1f dBFS): another voice or a crowd in the wearer's pause", r.End-r.Start, o.QuietDrop, quietRef[k])
		case quietRef[k] > NoSpeech:
			r.Why += fmt.Sprintf("; cut out of a region whose loud syllables stand at %.1f dBFS (nothing within %.0f dB here)", quietRef[k], o.QuietDrop)
		}
		o.matchedPrompt(&r, s.a, s.b, prompt, score)
		if r.Wearer {
			peak = max(peak, r.LevelDBFS)
		}
		regs[k] = r
	}
	for k := range regs {
		r := &regs[k]
		if r.Wearer && r.LevelDBFS < peak-o.BelowPeak {
			r.Wearer, r.Source = false, SourceBystander
			r.Why = fmt.Sprintf("level %.1f dBFS, more than %.0f dB under the wearer's %.1f: background talk", r.LevelDBFS, o.BelowPeak, peak)
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
	// Speech time, frame by frame (speech.go).
	var sp []float64
	clipFloor := median(nf)
	for k, s := range spans {
		if !regs[k].Wearer {
			continue
		}
		// The stretch up to the next region, when that one is the
		// wearer's too and less than MaxPause away, belongs to the same
		// utterance: its syllables too weak or too noisy to be voiced
		// (low SNR) are speech time by the same level rule.
		end := s.b
		if k+1 < len(spans) && regs[k+1].Wearer && spans[k+1].a-s.b <= pause {
			end = spans[k+1].a
		}
		j := judge{o: o, fr: fr, voiced: voiced, isPrompt: isPrompt, floor: clipFloor, level: regs[k].LevelDBFS}
		regs[k].SpeechSeconds = round2(float64(j.count(s.a, end, act.Speech)) * HopSeconds)
		for i := s.a; i < end; i++ {
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

// span is a stretch of frames [a, b).
type span struct{ a, b int }

// quietHalf is the half-width (frames, ±256 ms) of the window over which
// QuietDrop takes the loudest frame: a syllable's length either side.
const quietHalf = 16

// quietPct is the percentile of a region's voiced levels taken for its
// loud syllables: the loudest but for a few frames (a click, a clipped
// peak), so a short loud word among many voiced frames of a crowd still
// sets it.
const quietPct = 0.99

// splitQuiet cuts out of each span the stretches of at least MaxGap in
// which the loudest frame within ±quietHalf stays more than QuietDrop
// under the span's loud syllables (Opts.QuietDrop). It returns the spans,
// the cut ones among them, and for each the level of the loud syllables
// it was cut from (NoSpeech for a span not cut out). Pieces with no
// voiced frame are dropped.
func (o Opts) splitQuiet(fr []Frame, voiced []bool, spans []span) ([]span, []float64) {
	ref := make([]float64, len(spans))
	for k := range ref {
		ref[k] = NoSpeech
	}
	if o.QuietDrop <= 0 {
		return spans, ref
	}
	minRun := frames(o.MaxGap)
	var out []span
	var outRef []float64
	keep := func(a, b int, r float64) {
		for i := a; i < b; i++ {
			if voiced[i] {
				out = append(out, span{a, b})
				outRef = append(outRef, r)
				return
			}
		}
	}
	var lv []float64
	for _, s := range spans {
		lv = lv[:0]
		for i := s.a; i < s.b; i++ {
			if voiced[i] {
				lv = append(lv, fr[i].LevelDB)
			}
		}
		top := percentile(lv, quietPct) - o.QuietDrop
		// quiet[i]: no frame within ±quietHalf (inside the span)
		// reaches top.
		loud := make([]int, 0, 8) // indices of loud frames, in order
		for i := s.a; i < s.b; i++ {
			if fr[i].LevelDB >= top {
				loud = append(loud, i)
			}
		}
		a := s.a // start of the current piece
		for j := 0; j <= len(loud); j++ {
			// The quiet stretch between two loud frames (or the span's
			// edges): frames farther than quietHalf from both.
			qa, qb := s.a, s.b
			if j > 0 {
				qa = loud[j-1] + quietHalf + 1
			}
			if j < len(loud) {
				qb = loud[j] - quietHalf
			}
			if qb-qa < minRun {
				continue
			}
			keep(a, qa, NoSpeech)
			keep(qa, qb, top+o.QuietDrop)
			a = qb
		}
		keep(a, s.b, NoSpeech)
	}
	return out, outRef
}

// matchedPrompt judges a region SourcePrompt when at least half of its
// frames [a, b) match an enrolled prompt, whatever classify said: the
// recorder's own recording is the strongest evidence there is.
func (o Opts) matchedPrompt(r *Region, a, b int, prompt []int, score []float64) {
	if prompt == nil {
		return
	}
	n, best, which := 0, 0.0, -1
	for i := a; i < b; i++ {
		if prompt[i] >= 0 {
			n++
			if score[i] > best {
				best, which = score[i], prompt[i]
			}
		}
	}
	if 2*n < b-a {
		return
	}
	r.Source, r.Wearer = SourcePrompt, false
	r.Why = fmt.Sprintf("matches the enrolled %s (correlation %.2f over %.0f %% of the region)", o.Prompts[which], best, 100*float64(n)/float64(b-a))
}

// regionStats measures the frames [a, b) of a candidate region.
func regionStats(fr []Frame, voiced []bool, a, b int) Region {
	var lv, lo, fric, gl, hd []float64
	var mod, snr float64
	prev, tones := -1, 0
	for i := a; i < b; i++ {
		f := &fr[i]
		mod += f.Mod
		if f.HighF0 && f.Tonal >= 0.5 {
			tones++
		}
		if f.LevelDB-f.NoiseDB >= 6 {
			fric = append(fric, f.HighDB)
		}
		if !voiced[i] {
			prev = -1
			continue
		}
		lv = append(lv, f.LevelDB)
		if !f.Notched { // what a notch leaves of a held tone recurs
			hd = append(hd, f.Held)
		}
		snr += f.LevelDB - f.NoiseDB
		lo = append(lo, f.LowDB)
		if prev >= 0 && fr[prev].Pitch > 0 && f.Pitch > 0 {
			gl = append(gl, math.Abs(12*math.Log2(f.Pitch/fr[prev].Pitch)))
		}
		prev = i
	}
	r := Region{
		Start:     round2(float64(a) * HopSeconds),
		End:       round2(float64(b) * HopSeconds),
		Voiced:    round2(float64(len(lv)) / float64(b-a)),
		LevelDBFS: round1(percentile(lv, 0.8)),
		SNR:       round1(snr / float64(max(1, len(lv)))),
		Mod:       round1(mod / float64(b-a)),
		LowDB:     round1(median(lo)),
		Fric:      round1(percentile(fric, 0.9)),
		Glide:     round2(median(gl)),
		Held:      round2(max(0, median(hd))),
		Tone:      round2(float64(tones) / float64(b-a)),
	}
	if len(gl) < 3 {
		r.Glide = NoGlide
	}
	return r
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

// maskShare is the share of a wearer region's frames holding a tone over
// which the tone is taken for a background (a siren) that hides words, not
// for a prompt's beeps between them.
const maskShare = 0.5

// toneShare is the share of a region's frames holding a tone over 400 Hz
// from which the held-spectrum rule does not judge it: a siren or a horn
// is there, and what its notch leaves recurs like a held note.
const toneShare = 0.25

// activeDB is how far over the floor an unvoiced frame of a wearer region
// must stand to count as speech time.
const activeDB = 3
