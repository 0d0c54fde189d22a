package reasoncheck

import (
	"math"
	"math/rand/v2"
)

// Test signals synthesised in Go, so the checks run without any tool.

const sr = 16000

func dbToAmp(db float64) float64 { return math.Pow(10, db/20) }

// voice is a crude near-field talker: a glottal-like harmonic source (F0
// gliding around f0 and rising or falling 20–40 % within each word, 1/h
// harmonic roll-off), two formant-like emphases (a different vowel each
// word),
// words of 250–450 ms at ~3 per second with pauses, each opening with a
// 50 ms fricative (high-passed noise), for dur seconds from start, at peak
// level db dBFS.
func voice(x []float32, start, dur, f0, db float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	amp := dbToAmp(db)
	t0 := int(start * sr)
	end := min(len(x), int((start+dur)*sr))
	phase := 0.0
	wordEnd, word := 0, false
	fricEnd, last := 0, 0.0
	f1, f2, glide := 600.0, 1700.0, 0.0
	for i := t0; i < end; i++ {
		if i >= wordEnd { // next word or pause
			word = !word
			fricEnd = i + int(0.05*sr)
			l := 0.25 + 0.2*rng.Float64()
			if !word {
				l = 0.08 + 0.15*rng.Float64()
			}
			wordEnd = i + int(l*sr)
			if word {
				f1, f2 = 300+500*rng.Float64(), 900+1400*rng.Float64()
				glide = 0.2 + 0.2*rng.Float64()
				if rng.IntN(2) == 0 {
					glide = -glide
				}
			}
		}
		t := float64(i-t0) / sr
		q := 1 - float64(wordEnd-i)/float64(0.45*sr)
		f := f0 * (1 + 0.15*math.Sin(2*math.Pi*0.7*t)) * (1 + glide*(q-0.5))
		phase += 2 * math.Pi * f / sr
		var s float64
		for h := 1; float64(h)*f < 3800; h++ {
			hf := float64(h) * f
			g := 1 / float64(h)
			g *= 1 + 5*math.Exp(-sq((hf-f1)/150)) + 4*math.Exp(-sq((hf-f2)/250))
			s += g * math.Sin(float64(h)*phase)
		}
		env := 0.0
		if word {
			p := 1 - float64(wordEnd-i)/float64(0.45*sr) // rise and fall within the word
			env = math.Sin(math.Pi * math.Min(1, math.Max(0, p)))
			env = math.Max(env, 0.3)
		}
		x[i] += float32(amp * 0.25 * env * s)
		if word && i < fricEnd { // a fricative at the word's start: high-passed noise
			w := rng.NormFloat64()
			x[i] += float32(amp * 0.1 * (w - last))
			last = w
		}
	}
}

// scene is the gain (dB) at which the test scenes are recorded: a
// recorder's gain puts the wearer's voice about 6–8 dB under full scale.
const scene = 8

// gain scales x by db.
func gain(x []float32, db float64) {
	g := float32(dbToAmp(db))
	for i := range x {
		x[i] *= g
	}
}

func sq(v float64) float64 { return v * v }

// noise adds white (colour 0), brown (colour 2) or pink-ish (colour 1)
// noise at an RMS level of db dBFS.
func noise(x []float32, colour int, db float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	tmp := make([]float64, len(x))
	var b, p0, p1, p2 float64
	for i := range tmp {
		w := rng.NormFloat64()
		switch colour {
		case 2:
			b = 0.995*b + 0.1*w
			tmp[i] = b
		case 1: // Paul Kellet's economy pink filter
			p0 = 0.99765*p0 + w*0.0990460
			p1 = 0.96300*p1 + w*0.2965164
			p2 = 0.57000*p2 + w*1.0526913
			tmp[i] = p0 + p1 + p2 + w*0.1848
		default:
			tmp[i] = w
		}
	}
	addAt(x, tmp, db)
}

// addAt scales v to an RMS of db dBFS and adds it to x.
func addAt(x []float32, v []float64, db float64) {
	var e float64
	for _, s := range v {
		e += s * s
	}
	if e == 0 {
		return
	}
	g := dbToAmp(db) / math.Sqrt(e/float64(len(v)))
	for i := range x {
		x[i] += float32(g * v[i])
	}
}

// siren adds a wailing siren (sine sweeping lo→hi→lo every period s), with
// odd harmonics when square.
func siren(x []float32, lo, hi, period, db float64, square bool) {
	v := make([]float64, len(x))
	ph := 0.0
	for i := range v {
		t := float64(i) / sr
		u := math.Mod(t, period) / period
		tri := 1 - math.Abs(2*u-1)
		f := lo + (hi-lo)*tri
		ph += 2 * math.Pi * f / sr
		s := math.Sin(ph)
		if square {
			s += math.Sin(3*ph)/3 + math.Sin(5*ph)/5
		}
		v[i] = s
	}
	addAt(x, v, db)
}

// engine adds a running engine: firing frequency f0 with many harmonics, a
// slow rev wander and slight roughness.
func engine(x []float32, f0, db float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 9))
	v := make([]float64, len(x))
	var roll [31]float64 // h^0.8, computed once (math.Pow per sample was most of the package's test time under -race)
	for h := 1; h <= 30; h++ {
		roll[h] = math.Pow(float64(h), 0.8)
	}
	ph := 0.0
	for i := range v {
		t := float64(i) / sr
		f := f0 * (1 + 0.03*math.Sin(2*math.Pi*0.2*t))
		ph += 2 * math.Pi * f / sr
		var s float64
		for h := 1; h <= 30; h++ {
			s += math.Sin(float64(h)*ph+float64(h)) / roll[h]
		}
		v[i] = s * (1 + 0.05*rng.NormFloat64())
	}
	addAt(x, v, db)
}
