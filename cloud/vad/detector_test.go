package vad

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// TestVoicedRule pins the frame rule: periodic at a voice's pitch, not a
// tone over 400 Hz, and MinSNR over the floor. Each case sits a margin
// inside or outside one threshold; removing a condition or moving its
// threshold far flips a case.
func TestVoicedRule(t *testing.T) {
	// The documented defaults: MinHarm 0.6, MinSNR 6 dB.
	o := DefaultOpts
	base := Frame{LevelDB: -20, NoiseDB: -40, Harm: 0.8}
	cases := []struct {
		name string
		edit func(f *Frame)
		want bool
	}{
		{"voice", func(f *Frame) {}, true},
		{"harmonicity just over MinHarm", func(f *Frame) { f.Harm = 0.7 }, true},
		{"harmonicity under MinHarm (noise)", func(f *Frame) { f.Harm = 0.45 }, false},
		{"a tone over 400 Hz", func(f *Frame) { f.HighF0 = true }, false},
		{"SNR just over MinSNR", func(f *Frame) { f.LevelDB = f.NoiseDB + 9 }, true},
		{"SNR under MinSNR", func(f *Frame) { f.LevelDB = f.NoiseDB + 3 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			tc.edit(&f)
			if got := o.voiced(f); got != tc.want {
				t.Errorf("voiced(%+v) = %v, want %v", f, got, tc.want)
			}
		})
	}
}

// TestClassifyRules pins each region rule and its threshold: a wearer's
// region, then one measure at a time moved a margin past a threshold.
// Removing a rule turns its "past" case into a wearer (or another
// source), moving a threshold far turns one of its two cases over.
func TestClassifyRules(t *testing.T) {
	// The documented defaults: MinVoiced 0.2, MinMod 1.5 dB, PromptLow
	// -18 dB, BandLimit -23 dB, HeldPitch 0.05 semitone, HeldSpectrum
	// 0.89 (with under toneShare of tone frames), NearField -22
	// dBFS. The cases are literal so that moving a default fails them.
	o := DefaultOpts
	wearer := Region{Voiced: 0.5, LevelDBFS: -12, Mod: 4, LowDB: 0, Fric: -8, Glide: 0.3}
	cases := []struct {
		name string
		edit func(r *Region)
		want string
	}{
		{"wearer", func(r *Region) {}, SourceWearer},
		{"voiced share over MinVoiced", func(r *Region) { r.Voiced = 0.27 }, SourceWearer},
		{"voiced share under MinVoiced (wind, noise)", func(r *Region) { r.Voiced = 0.12 }, SourceNoise},
		{"modulation over MinMod", func(r *Region) { r.Mod = 2.3 }, SourceWearer},
		{"no syllabic modulation (engine)", func(r *Region) { r.Mod = 0.8 }, SourceNoise},
		{"some body under 300 Hz", func(r *Region) { r.LowDB, r.Fric = -14, 0 }, SourceWearer},
		{"nothing under 300 Hz (prompt)", func(r *Region) { r.LowDB, r.Fric = -22, 0 }, SourcePrompt},
		{"band edges inside the telephone band", func(r *Region) { r.LowDB, r.Fric = -10, -9 }, SourceWearer},
		{"cut at both ends (radio)", func(r *Region) { r.LowDB, r.Fric = -13, -15 }, SourceLoudspeaker},
		{"gliding pitch", func(r *Region) { r.Glide = 0.1 }, SourceWearer},
		{"held pitch (music)", func(r *Region) { r.Glide = 0.02 }, SourceMusic},
		{"no pitch pairs: not judged as held", func(r *Region) { r.Glide = NoGlide }, SourceWearer},
		{"spectrum recurs less than HeldSpectrum", func(r *Region) { r.Held = 0.82 }, SourceWearer},
		{"held spectrum (music with a vibrato lead)", func(r *Region) { r.Held = 0.95 }, SourceMusic},
		{"held spectrum but a siren in the region: not judged", func(r *Region) { r.Held, r.Tone = 0.95, 0.4 }, SourceWearer},
		{"level over NearField", func(r *Region) { r.LevelDBFS = -18 }, SourceWearer},
		{"level under NearField (bystander)", func(r *Region) { r.LevelDBFS = -27 }, SourceBystander},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := wearer
			tc.edit(&r)
			o.classify(&r)
			if r.Source != tc.want || r.Wearer != (tc.want == SourceWearer) || r.Why == "" {
				t.Errorf("%+v: source %q wearer %v why %q, want %q", r, r.Source, r.Wearer, r.Why, tc.want)
			}
		})
	}
}

func detect(t *testing.T, o *Opts, x []float32) Activity {
	t.Helper()
	a, err := New(o).Detect(x, Rate)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func speechSeconds(a Activity) float64 {
	var s float64
	for _, r := range a.Regions {
		s += r.SpeechSeconds
	}
	return s
}

func sources(a Activity) string {
	var b strings.Builder
	for _, r := range a.Regions {
		fmt.Fprintf(&b, "[%.2f–%.2f %s wearer=%v %.2fs lv %.1f low %.1f fric %.1f glide %.2f mod %.1f voiced %.2f: %s] ",
			r.Start, r.End, r.Source, r.Wearer, r.SpeechSeconds, r.LevelDBFS, r.LowDB, r.Fric, r.Glide, r.Mod, r.Voiced, r.Why)
	}
	return b.String()
}

// wearerSeconds is the speech counted; judged is the share of candidate
// region time given each source.
func judged(a Activity) map[string]float64 {
	m := map[string]float64{}
	for _, r := range a.Regions {
		m[r.Source] += r.End - r.Start
	}
	return m
}

// TestDetectSignals runs the detector on made signals, one per rule: the
// physical situation each rule stands for, with the source it must be
// judged as. Disabling the rule (or moving its threshold far) makes the
// case's signal pass as the wearer, or the wearer's fail.
func TestDetectSignals(t *testing.T) {
	const secs = 8
	cases := []struct {
		name      string
		make      func() []float32
		o         *Opts
		source    string  // the source that must hold most of the candidate time
		minSpeech float64 // wearer speech counted, at least
		maxSpeech float64 // and at most
	}{
		{"near talker over pink noise", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -45, 1)
			talker(x, 1, 5, 140, -6, 2)
			return x
		}, nil, SourceWearer, 3.5, 5.5},
		{"near talker in a reverberant room (RT60 0.7 s, DRR +2 dB)", func() []float32 {
			x := make([]float32, secs*Rate)
			talker(x, 1, 5, 140, -6, 3)
			x = reverb(x, 0.7, 2, 4)
			pink(x, -50, 5)
			return x
		}, nil, SourceWearer, 3.5, 6.5},
		{"the same talker 3 m away (NearField)", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -60, 6)
			talker(x, 1, 5, 140, -34, 7)
			return x
		}, nil, SourceBystander, 0, 0},
		{"steady engine drone (MinMod)", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -50, 8)
			drone(x, 90, -8)
			return x
		}, nil, SourceNoise, 0, 0},
		{"white noise, rain (voicing, MinVoiced)", func() []float32 {
			x := make([]float32, secs*Rate)
			white(x, -15, 9)
			return x
		}, nil, "", 0, 0},
		{"held notes on a beat (HeldPitch)", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -50, 10)
			notes(x, 0.5, 7, -8)
			return x
		}, nil, SourceMusic, 0, 0},
		{"chords and a vibrato lead on a beat (HeldSpectrum)", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -50, 28)
			vibratoLead(x, 0.5, 7, -8)
			return x
		}, nil, SourceMusic, 0, 0},
		{"talker through a radio: 300–3400 Hz, compressed (BandLimit)", func() []float32 {
			x := make([]float32, secs*Rate)
			talker(x, 1, 5, 140, -6, 11)
			compress(x)
			x = bandpass(x, 300, 3400, -12, -30)
			pink(x, -50, 12)
			return x
		}, nil, SourceLoudspeaker, 0, 0},
		{"talker through a tiny speaker: nothing under 300 Hz (PromptLow)", func() []float32 {
			x := make([]float32, secs*Rate)
			talker(x, 1, 5, 140, -6, 13)
			x = bandpass(x, 300, 7500, -40, -40)
			pink(x, -50, 14)
			return x
		}, nil, SourcePrompt, 0, 0},
		{"talker over a wailing siren (tone notched out)", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -50, 23)
			siren(x, 650, 1400, 4, -22)
			talker(x, 1, 5, 140, -8, 24)
			return x
		}, nil, SourceWearer, 2.5, 5.5},
		{"talker under a siren 6 dB louder (modulation of what the tone leaves)", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -50, 23)
			siren(x, 650, 1400, 4, -14)
			talker(x, 1, 5, 140, -8, 24)
			return x
		}, nil, SourceWearer, 2.5, 5.5},
		{"talker under a hi-lo horn whose 2nd harmonic is strongest (the tone's fundamental notched too)", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -50, 26)
			horn(x, 450, 600, 1, -14)
			talker(x, 1, 5, 140, -8, 27)
			return x
		}, nil, SourceWearer, 2.5, 5.5},
		{"a wailing siren alone stays a tone", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -50, 25)
			siren(x, 650, 1400, 4, -16)
			return x
		}, nil, "", 0, 0},
		{"one short word (MinRun)", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -50, 15)
			talker(x, 3, 0.35, 140, -6, 16)
			return x
		}, nil, SourceWearer, 0, 0},
		{"one short word counts without MinRun", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -50, 15)
			talker(x, 3, 0.35, 140, -6, 16)
			return x
		}, &Opts{MinHarm: 0.6, MinSNR: 6, NearField: -22, BelowPeak: 20, MaxGap: 500 * time.Millisecond,
			Hangover: 100 * time.Millisecond, MinRun: 0, MaxPause: time.Second, MinVoiced: 0.2, MinMod: 1.5,
			PromptLow: -18, BandLimit: -23, HeldPitch: 0.05, HeldSpectrum: 0.89, Background: 12, BridgeGap: 500 * time.Millisecond}, SourceWearer, 0.15, 0.6},
		{"words around a beep: the beep is not speech time (BridgeGap)", func() []float32 {
			x := make([]float32, secs*Rate)
			pink(x, -50, 17)
			talker(x, 1, 1.2, 140, -6, 18)
			beeps(x, 2.3, 1, -10)
			talker(x, 2.55, 1.2, 140, -6, 19)
			return x
		}, nil, SourceWearer, 2.2, 2.7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := detect(t, tc.o, tc.make())
			got := speechSeconds(a)
			if got < tc.minSpeech || got > tc.maxSpeech {
				t.Errorf("wearer speech %.2f s, want %.2f–%.2f; regions %s", got, tc.minSpeech, tc.maxSpeech, sources(a))
			}
			if tc.source == "" {
				return
			}
			m := judged(a)
			best, bestT := "", 0.0
			for s, v := range m {
				if v > bestT {
					best, bestT = s, v
				}
			}
			if best != tc.source {
				t.Errorf("most candidate time judged %q, want %q; regions %s", best, tc.source, sources(a))
			}
		})
	}
}

// TestBelowPeak pins the rule that drops talk far under the wearer's
// level: a distant talker 25 dB under the wearer (NearField off, so only
// BelowPeak can drop it).
func TestBelowPeak(t *testing.T) {
	x := make([]float32, 10*Rate)
	pink(x, -70, 20)
	talker(x, 0.5, 2, 140, -4, 21)    // the wearer
	talker(x, 3.5, 1.5, 140, -14, 23) // the wearer, 10 dB softer: still counted
	talker(x, 6, 3.5, 190, -29, 22)   // background talk, 25 dB under
	o := DefaultOpts
	o.NearField = -80
	a := detect(t, &o, x)
	var loud, soft, dropped float64
	for _, r := range a.Regions {
		switch {
		case r.Wearer && r.Start < 3:
			loud += r.End - r.Start
		case r.Wearer && r.Start < 5.5:
			soft += r.End - r.Start
		case r.Source == SourceBystander && r.Start >= 5.5:
			dropped += r.End - r.Start
		}
	}
	if loud < 1.5 || soft < 1 || dropped < 2 {
		t.Errorf("wearer %.2f s and %.2f s (10 dB softer), background dropped %.2f s; regions %s", loud, soft, dropped, sources(a))
	}
}

func TestDetectRate(t *testing.T) {
	_, err := New(nil).Detect(make([]float32, 8000), 8000)
	if !errors.Is(err, ErrRate) {
		t.Errorf("err %v, want ErrRate", err)
	}
	a, err := New(nil).Detect(make([]float32, 100), Rate)
	if err != nil || len(a.Regions) != 0 {
		t.Errorf("a clip shorter than a frame: %v, %d regions", err, len(a.Regions))
	}
}

// TestUtteranceSpeechTime pins the speech time of an utterance split into
// two regions by syllables too weak to be voiced (low SNR): the stretch
// between two wearer regions less than MaxPause apart counts where it
// stands activeDB over the floor and within Background of the wearer's
// level, and not where it is at the floor, nor where it is far under the
// wearer (a bystander between the wearer's words).
func TestUtteranceSpeechTime(t *testing.T) {
	build := func(floor, voicedDB, gapDB float64) []Frame {
		voicedF := func(i int) Frame {
			return Frame{LevelDB: voicedDB, NoiseDB: floor, Harm: 0.8, Pitch: 140 + 10*float64(i%2), Mod: 4, HighDB: -8}
		}
		var fr []Frame
		for i := range 62 {
			fr = append(fr, voicedF(i))
		}
		for range 44 { // 0.7 s: over MaxGap, under MaxPause
			fr = append(fr, Frame{LevelDB: floor + gapDB, NoiseDB: floor, Harm: 0.3, Mod: 4, HighDB: -8})
		}
		for i := range 62 {
			fr = append(fr, voicedF(i))
		}
		return fr
	}
	for _, tc := range []struct {
		name                   string
		floor, voicedDB, gapDB float64
		min, max               float64
	}{
		{"weak syllables at low SNR: the whole utterance", -30, -18, 6, 2.6, 2.8},
		{"a pause at the floor: the two regions only", -30, -18, 0, 1.9, 2.25},
		{"24 dB under the wearer (Background): the two regions only", -42, -12, 6, 1.9, 2.25},
		{"14 dB under the wearer: the whole utterance", -32, -12, 6, 2.6, 2.8},
	} {
		a := New(nil).decide(build(tc.floor, tc.voicedDB, tc.gapDB))
		var sum float64
		n := 0
		for _, r := range a.Regions {
			if r.Wearer {
				sum += r.SpeechSeconds
				n++
			}
		}
		if n != 2 || sum < tc.min || sum > tc.max {
			t.Errorf("%s: %d wearer regions, %.2f s of speech, want 2 and %.2f–%.2f s; regions %s", tc.name, n, sum, tc.min, tc.max, sources(a))
		}
	}
}

// TestSirenMasksWords pins maskShare: in a wearer region where a tone holds
// most frames (a siren), the words it hides between voiced frames are
// bridged like a pause; where tones are fewer (a prompt's beeps between
// words), they are not speech time.
func TestSirenMasksWords(t *testing.T) {
	build := func(tone int) []Frame {
		var fr []Frame
		for range 8 {
			for i := range 10 {
				fr = append(fr, Frame{LevelDB: -15, NoiseDB: -40, Harm: 0.8, Pitch: 140 + 10*float64(i%2), Mod: 4, HighDB: -8})
			}
			for range tone {
				fr = append(fr, Frame{LevelDB: -15, NoiseDB: -40, Harm: 0.9, HighF0: true, Tonal: 0.8, Mod: 4, HighDB: -8})
			}
		}
		return fr
	}
	for _, tc := range []struct {
		tone     int
		min, max float64
	}{
		{14, 2.7, 3.1}, // 58 % tone: a siren, all of it speech time
		{6, 1.1, 1.5},  // 38 % tone: beeps, the voiced frames only
	} {
		a := New(nil).decide(build(tc.tone))
		if got := speechSeconds(a); got < tc.min || got > tc.max {
			t.Errorf("tone frames %d in 10+%d: wearer speech %.2f s, want %.2f–%.2f; regions %s", tc.tone, tc.tone, got, tc.min, tc.max, sources(a))
		}
	}
}

// TestTiltUnderTone pins that a region's band levels are of what a tone
// leaves: a talker's fricative level (Region.Fric, relative to the
// telephone band) under a hi-lo horn stays within 5 dB of the talker's
// alone, where the horn filling the telephone band would push it 13 dB
// down, towards the loudspeaker rule.
func TestTiltUnderTone(t *testing.T) {
	fric := func(hornDB float64) float64 {
		x := make([]float32, 8*Rate)
		pink(x, -50, 23)
		if hornDB > -100 {
			horn(x, 450, 600, 1, hornDB)
		}
		talker(x, 1, 5, 140, -8, 24)
		a := detect(t, nil, x)
		best := Region{}
		for _, r := range a.Regions {
			if r.End-r.Start > best.End-best.Start {
				best = r
			}
		}
		if best.Source != SourceWearer {
			t.Errorf("horn at %.0f dBFS: the longest region is %s; regions %s", hornDB, best.Source, sources(a))
		}
		return best.Fric
	}
	alone, under := fric(-200), fric(-14)
	if math.Abs(under-alone) > 5 {
		t.Errorf("fricative level %.1f dB under the horn, %.1f dB alone: more than 5 dB apart", under, alone)
	}
}

// TestQuietDrop pins the rule that cuts a crowd out of the wearer's
// region: one loud word, then a crowd (five voices 1–6 m away) whose
// voiced frames join it into one region. Without the rule the crowd is
// counted as the wearer (over 2 s); with it the crowd is a bystander
// region of its own and the word alone is counted. A wearer who talks on
// keeps the talk. NearField is off so only this rule can drop the crowd
// (it stands 12–18 dB under the word, inside BelowPeak and Background).
func TestQuietDrop(t *testing.T) {
	crowd := func(x []float32, start float64) {
		for k, f0 := range []float64{110, 135, 170, 205, 240} {
			talker(x, start+0.05*float64(k), 5.5-start, f0, -30, uint64(40+k))
		}
	}
	word := make([]float32, 6*Rate)
	pink(word, -60, 30)
	talker(word, 0.5, 0.7, 150, -8, 31) // one word
	crowd(word, 0.9)
	talk := make([]float32, 6*Rate)
	pink(talk, -60, 30)
	talker(talk, 0.5, 3, 150, -8, 31) // a statement
	crowd(talk, 0.9)

	o := DefaultOpts
	o.NearField = -80
	off := o
	off.QuietDrop = 0
	speech := func(a Activity) (s float64) {
		for _, r := range a.Regions {
			s += r.SpeechSeconds
		}
		return s
	}
	if s := speech(detect(t, &off, word)); s < 2 {
		t.Fatalf("without QuietDrop the crowd gave only %.2f s: the test no longer shows the rule", s)
	}
	a := detect(t, &o, word)
	if s := speech(a); s >= 2 {
		t.Errorf("one word and a crowd: %.2f s counted, want under 2; regions %s", s, sources(a))
	}
	var why string
	for _, r := range a.Regions {
		if r.Source == SourceBystander && r.Start > 1 {
			why = r.Why
		}
	}
	if !strings.Contains(why, "the wearer's pause") {
		t.Errorf("no bystander region cut out of the crowd (why %q); regions %s", why, sources(a))
	}
	if s := speech(detect(t, &o, talk)); s < 2.5 {
		t.Errorf("a 3 s statement over the crowd: %.2f s counted, want at least 2.5", s)
	}
}

// The band-limit rule follows the share of the fricative band a
// recording made at a lower rate holds; with none of it, the rule is off.
func TestBandLimitFollowsSourceBand(t *testing.T) {
	o := DefaultOpts
	if o.bandLimit() != o.BandLimit || !o.bandMeasured() {
		t.Fatalf("full band: limit %.1f, measured %v", o.bandLimit(), o.bandMeasured())
	}
	o.SourceTopHz = 0.95 * 4000 // an 8 kHz recording
	if got, want := o.bandLimit(), o.BandLimit-10.1; got > want+0.05 || got < want-0.05 || !o.bandMeasured() {
		t.Errorf("8 kHz: limit %.2f, want %.2f", got, want)
	}
	o.SourceTopHz = 0.95 * 5512.5 // 11.025 kHz
	if got := o.bandLimit(); got >= o.BandLimit || got <= o.BandLimit-10 {
		t.Errorf("11 kHz: limit %.2f", got)
	}
	o.SourceTopHz = 3450
	if o.bandMeasured() {
		t.Error("a recording holding nothing over 3.45 kHz still judged by the fricative band")
	}
	// A band-limited voice in a narrow recording is judged by the rule, and
	// the reason names the recording's band.
	o.SourceTopHz = 3800
	r := Region{Voiced: 0.8, Mod: 4, LowDB: -16, Fric: -20, Glide: 0.3, Held: 0.5, LevelDBFS: -12}
	o.classify(&r)
	if r.Source != SourceLoudspeaker || !strings.Contains(r.Why, "holds up to 3800 Hz") {
		t.Errorf("narrow recording, band-limited voice: %s (%s)", r.Source, r.Why)
	}
	r = Region{Voiced: 0.8, Mod: 4, LowDB: -16, Fric: -20, Glide: 0.3, Held: 0.5, LevelDBFS: -12}
	o.SourceTopHz = 3450
	o.classify(&r)
	if r.Source != SourceWearer {
		t.Errorf("with no fricative band held the rule judged: %s (%s)", r.Source, r.Why)
	}
}
