package vad

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
)

// Test signals made in Go: the detector's rules are pinned on sounds whose
// physics is known.

func amp(db float64) float64 { return math.Pow(10, db/20) }

// talker adds a near-field voice: a harmonic stack (1/h roll-off, two
// formant emphases, a different vowel each syllable) whose pitch glides
// around f0 like intonation (a slow declination and a rise or fall within
// each syllable), cut into syllables of 150–300 ms at about 4 a second
// (syllabic AM), each opening with a 50 ms fricative (noise over 3.4
// kHz), for dur seconds from start at a peak of db dBFS.
func talker(x []float32, start, dur, f0, db float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	a := amp(db)
	i0, end := int(start*Rate), min(len(x), int((start+dur)*Rate))
	phase, last := 0.0, 0.0
	sylEnd, sylLen, on, fric := 0, 1, false, 0
	f1, f2, glide := 600.0, 1700.0, 0.0
	for i := i0; i < end; i++ {
		if i >= sylEnd {
			on = !on
			l := 0.15 + 0.15*rng.Float64()
			if !on {
				l = 0.05 + 0.1*rng.Float64()
			}
			sylLen = int(l * Rate)
			sylEnd = i + sylLen
			fric = i + int(0.05*Rate)
			if on { // the next vowel and its pitch movement
				f1, f2 = 300+500*rng.Float64(), 900+1400*rng.Float64()
				glide = 0.2 + 0.2*rng.Float64() // a rise or a fall of 20–40 % (a tone)
				if rng.IntN(2) == 0 {
					glide = -glide
				}
			}
		}
		t := float64(i-i0) / Rate
		p := 1 - float64(sylEnd-i)/float64(sylLen)
		f := f0 * (1 + 0.15*math.Sin(2*math.Pi*0.7*t)) * (1 + glide*(p-0.5))
		phase += 2 * math.Pi * f / Rate
		if !on {
			continue
		}
		var s float64
		for h := 1; float64(h)*f < 7000; h++ {
			hf := float64(h) * f
			g := 1 / float64(h)
			g *= 1 + 5*math.Exp(-sq((hf-f1)/150)) + 4*math.Exp(-sq((hf-f2)/250))
			s += g * math.Sin(float64(h)*phase)
		}
		env := math.Max(0.25, math.Sin(math.Pi*p))
		x[i] += float32(a * 0.25 * env * s)
		if i < fric {
			w := rng.NormFloat64()
			x[i] += float32(a * 0.15 * (w - last))
			last = w
		}
	}
}

func sq(v float64) float64 { return v * v }

// notes adds held notes: a harmonic stack at a fixed pitch for 400 ms,
// then the next of a scale, struck at 4 Hz (a beat: level modulation like
// syllables), from start for dur seconds at db dBFS.
func notes(x []float32, start, dur, db float64) {
	scale := []float64{220, 247, 262, 294, 330, 294, 262, 247}
	a := amp(db)
	i0, end := int(start*Rate), min(len(x), int((start+dur)*Rate))
	for i := i0; i < end; i++ {
		t := float64(i-i0) / Rate
		f := scale[int(t/0.4)%len(scale)]
		env := 0.3 + 0.7*math.Exp(-math.Mod(t, 0.25)/0.08)
		var s float64
		for h := 1; float64(h)*f < 7000; h++ {
			s += math.Sin(2*math.Pi*float64(h)*f*t) / float64(h)
		}
		x[i] += float32(a * 0.3 * env * s)
	}
}

// drone adds a steady harmonic stack (an engine's firing, a hum) whose
// pitch sweeps slowly around f0 without level modulation.
func drone(x []float32, f0, db float64) {
	a := amp(db)
	phase := 0.0
	for i := range x {
		t := float64(i) / Rate
		f := f0 * (1 + 0.4*math.Sin(2*math.Pi*0.3*t))
		phase += 2 * math.Pi * f / Rate
		var s float64
		for h := 1; float64(h)*f < 7000; h++ {
			s += math.Sin(float64(h)*phase) / float64(h)
		}
		x[i] += float32(a * 0.3 * s)
	}
}

// beeps adds n tones of 1 kHz, 150 ms each, 100 ms apart, from start.
func beeps(x []float32, start float64, n int, db float64) {
	a := amp(db)
	for b := range n {
		i0 := int((start + 0.25*float64(b)) * Rate)
		for i := i0; i < min(len(x), i0+int(0.15*Rate)); i++ {
			x[i] += float32(a * math.Sin(2*math.Pi*1000*float64(i)/Rate))
		}
	}
}

// pink adds pink-ish noise at an RMS of db dBFS.
func pink(x []float32, db float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 5))
	v := make([]float64, len(x))
	var p0, p1, p2, e float64
	for i := range v {
		w := rng.NormFloat64()
		p0 = 0.99765*p0 + w*0.0990460
		p1 = 0.96300*p1 + w*0.2965164
		p2 = 0.57000*p2 + w*1.0526913
		v[i] = p0 + p1 + p2 + w*0.1848
		e += v[i] * v[i]
	}
	g := amp(db) / math.Sqrt(e/float64(len(v)))
	for i := range x {
		x[i] += float32(g * v[i])
	}
}

// white adds white noise at an RMS of db dBFS.
func white(x []float32, db float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 9))
	g := amp(db)
	for i := range x {
		x[i] += float32(g * rng.NormFloat64())
	}
}

// bandpass filters x in the frequency domain: what lies under lo Hz is
// attenuated by loDB, what lies over hi Hz by hiDB (a loudspeaker's
// response).
func bandpass(x []float32, lo, hi, loDB, hiDB float64) []float32 {
	n := 1
	for n < len(x) {
		n <<= 1
	}
	c := make([]complex128, n)
	for i, v := range x {
		c[i] = complex(float64(v), 0)
	}
	dft(c, false)
	gl, gh := amp(loDB), amp(hiDB)
	for k := range n {
		f := float64(min(k, n-k)) * Rate / float64(n)
		switch {
		case f < lo:
			c[k] *= complex(gl, 0)
		case f > hi:
			c[k] *= complex(gh, 0)
		}
	}
	dft(c, true)
	out := make([]float32, len(x))
	for i := range out {
		out[i] = float32(real(c[i]) / float64(n))
	}
	return out
}

// compress flattens the envelope like a broadcast limiter: the gain holds
// a 20 ms RMS at the level of the loudest part.
func compress(x []float32) {
	w := Rate / 50
	var e float64
	env := make([]float64, len(x))
	for i, v := range x {
		e += float64(v) * float64(v)
		if i >= w {
			e -= float64(x[i-w]) * float64(x[i-w])
		}
		env[i] = math.Sqrt(max(e, 0) / float64(w))
	}
	var peak float64
	for _, v := range env {
		peak = max(peak, v)
	}
	for i := range x {
		x[i] = float32(float64(x[i]) * peak / max(env[i], peak/30))
	}
}

// reverb convolves x with a room: the direct sound plus an exponentially
// decaying noise tail (rt60 seconds) drr dB under it.
func reverb(x []float32, rt60, drr float64, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 13))
	n := int(rt60 * Rate)
	h := make([]float64, n)
	var e float64
	for i := 1; i < n; i++ {
		h[i] = rng.NormFloat64() * math.Pow(10, -3*float64(i)/float64(n))
		e += h[i] * h[i]
	}
	h[0] = math.Sqrt(e) * amp(drr) // direct sound drr dB over the tail's energy
	m := 1
	for m < len(x)+n {
		m <<= 1
	}
	a, b := make([]complex128, m), make([]complex128, m)
	for i, v := range x {
		a[i] = complex(float64(v), 0)
	}
	for i, v := range h {
		b[i] = complex(v/h[0], 0)
	}
	dft(a, false)
	dft(b, false)
	for i := range a {
		a[i] *= b[i]
	}
	dft(a, true)
	out := make([]float32, len(x))
	for i := range out {
		out[i] = float32(real(a[i]) / float64(m))
	}
	return out
}

// dft is an in-place radix-2 FFT (inverse unscaled).
func dft(c []complex128, inv bool) {
	n := len(c)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			c[i], c[j] = c[j], c[i]
		}
	}
	sign := -1.0
	if inv {
		sign = 1
	}
	for l := 2; l <= n; l <<= 1 {
		w := cmplx.Exp(complex(0, sign*2*math.Pi/float64(l)))
		for i := 0; i < n; i += l {
			wk := complex(1, 0)
			for k := range l / 2 {
				u, v := c[i+k], c[i+k+l/2]*wk
				c[i+k], c[i+k+l/2] = u+v, u-v
				wk *= w
			}
		}
	}
}

// siren adds a wailing siren: a tone sweeping lo–hi–lo Hz every period
// seconds, with odd harmonics (a horn driver), at an RMS of db dBFS.
func siren(x []float32, lo, hi, period, db float64) {
	a := amp(db) * math.Sqrt2 / math.Sqrt(1+1.0/9+1.0/25)
	ph := 0.0
	for i := range x {
		t := float64(i) / Rate
		u := math.Mod(t, period) / period
		f := lo + (hi-lo)*(1-math.Abs(2*u-1))
		ph += 2 * math.Pi * f / Rate
		x[i] += float32(a * (math.Sin(ph) + math.Sin(3*ph)/3 + math.Sin(5*ph)/5))
	}
}

// horn adds a two-tone (hi-lo) siren whose second harmonic is its
// strongest partial (a horn driver's resonance): lo and hi Hz alternating
// every half period, at an RMS of db dBFS.
func horn(x []float32, lo, hi, period, db float64) {
	a := amp(db) * math.Sqrt2 / math.Sqrt(0.25+1+0.09)
	ph := 0.0
	for i := range x {
		t := float64(i) / Rate
		f := lo
		if math.Mod(t, period) >= period/2 {
			f = hi
		}
		ph += 2 * math.Pi * f / Rate
		x[i] += float32(a * (0.5*math.Sin(ph) + math.Sin(2*ph) + 0.3*math.Sin(3*ph)))
	}
}

// vibratoLead adds music whose pitch is not held frame to frame: a lead
// line (notes of 0.4 s, a 5.5 Hz vibrato of ±4 %, a formant-like
// emphasis) over a held chord (three notes, changed every 2 s) on a beat
// with a hi-hat (30 ms of noise over 3 kHz every 0.25 s), for dur seconds
// from start at a peak of db dBFS.
func vibratoLead(x []float32, start, dur, db float64) {
	rng := rand.New(rand.NewPCG(5, 6))
	last := 0.0
	lead := []float64{262, 294, 330, 392, 330, 294}
	chords := [][3]float64{{131, 165, 196}, {110, 131, 165}}
	a := amp(db)
	i0, end := int(start*Rate), min(len(x), int((start+dur)*Rate))
	phase := 0.0
	for i := i0; i < end; i++ {
		t := float64(i-i0) / Rate
		f := lead[int(t/0.4)%len(lead)] * (1 + 0.04*math.Sin(2*math.Pi*5.5*t))
		phase += 2 * math.Pi * f / Rate
		env := 0.5 + 0.5*math.Exp(-math.Mod(t, 0.5)/0.1) // the beat
		var s float64
		for h := 1; float64(h)*f < 5000; h++ {
			hf := float64(h) * f
			s += math.Sin(float64(h)*phase) / float64(h) * (1 + 2*math.Exp(-sq((hf-900)/300)))
		}
		for _, c := range chords[int(t/2)%len(chords)] {
			for h := 1; float64(h)*c < 3000; h++ {
				s += 0.5 * math.Sin(2*math.Pi*float64(h)*c*t) / float64(h*h)
			}
		}
		if math.Mod(t, 0.25) < 0.03 {
			w := rng.NormFloat64()
			s += 0.8 * (w - last)
			last = w
		}
		x[i] += float32(a * 0.2 * env * s)
	}
}
