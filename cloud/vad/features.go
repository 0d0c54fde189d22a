package vad

import (
	"math"
)

// Analysis constants. The detector works at Rate; frames of 32 ms every
// 16 ms (hop), zero-padded to nfft so the autocorrelation is linear.
const (
	Rate     = 16000
	frameLen = 512
	hop      = 256
	nfft     = 1024
	binHz    = float64(Rate) / nfft
	loHz     = 125.0  // speech band used for levels and noise tracking
	hiHz     = 4000.0 //
	nBands   = 18
	minLag   = Rate / 400 // pitch 400 Hz
	maxLag   = Rate / 75  // pitch 75 Hz
	toneLag  = Rate / 2000
	// harmLoBin: the autocorrelation skips what lies under 250 Hz, where
	// wind and traffic rumble put most of their energy; the harmonics above
	// still carry the pitch (the missing-fundamental effect).
	harmLoBin = 16
)

// HopSeconds is the spacing of frames (and of decisions).
const HopSeconds = float64(hop) / Rate

// Frame holds the features of one analysis frame.
type Frame struct {
	LevelDB float64 // speech-band (125–4000 Hz) power, dB re full-scale sine
	NoiseDB float64 // the adaptive noise floor in the same band, dB
	SNR     float64 // mean over bands of the clipped band SNR, dB
	Harm    float64 // normalised autocorrelation peak at a 75–400 Hz pitch lag (0..1)
	Pitch   float64 // Hz of that peak, 0 when unvoiced
	HighF0  bool    // periodic with a fundamental above 400 Hz (whistle, beep, siren)
	Tonal   float64 // share of the excess spectrum in its strongest peak (0..1)
	Mod     float64 // 2–8 Hz (syllabic) modulation of the band level, dB RMS over ±0.5 s
	// LowDB and HighDB are the levels (dB) of the low band (62–300 Hz:
	// a talker's fundamental and the body of a voice, which a small
	// loudspeaker cannot give) and of the high band (3.4–7.5 kHz: a
	// talker's fricatives, above a loudspeaker's band) relative to the
	// 300–3400 Hz band. In a frame with a tone over 400 Hz holding much
	// of it (a siren, a beep) they are of what the tone and its harmonics
	// leave.
	LowDB, HighDB float64
	// Notched: the frame was periodic over 400 Hz (a tone) and its pitch
	// was looked for again with the tone removed.
	Notched bool
	// Held is how closely the frame's fine spectrum (the noise-whitened
	// excess, 250–4000 Hz, a tone over 400 Hz notched out) recurs 128–320
	// ms away, before or after: the highest cosine similarity over those
	// lags (0..1). A held note or chord keeps its harmonics in the same
	// bins for longer than a syllable, and a vibrato returns to them
	// within one cycle (5–7 Hz); speech moves its pitch and formants on
	// every syllable and does not come back.
	Held float64
}

// Tilt bands, in bins.
const (
	lowLoBin  = 4   // 62.5 Hz
	midLoBin  = 19  // 297 Hz
	midHiBin  = 218 // 3406 Hz
	highHiBin = 480 // 7500 Hz
)

// bands: log-spaced edges between loHz and hiHz, in bins.
var bandEdges = func() []int {
	e := make([]int, nBands+1)
	for i := range e {
		hz := loHz * math.Pow(hiHz/loHz, float64(i)/nBands)
		e[i] = int(math.Round(hz / binHz))
	}
	for i := 1; i < len(e); i++ { // at least 2 bins a band
		if e[i] < e[i-1]+2 {
			e[i] = e[i-1] + 2
		}
	}
	return e
}()

var hann = func() []float64 {
	w := make([]float64, frameLen)
	for i := range w {
		w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*(float64(i)+0.5)/frameLen)
	}
	return w
}()

// hannACF is the normalised autocorrelation of the window, to undo its
// taper on the signal's autocorrelation (Boersma 1993).
var hannACF = func() []float64 {
	r := make([]float64, maxLag+2)
	var r0 float64
	for _, v := range hann {
		r0 += v * v
	}
	for l := range r {
		var s float64
		for i := 0; i+l < frameLen; i++ {
			s += hann[i] * hann[i+l]
		}
		r[l] = s / r0
	}
	return r
}()

// fullScale is the windowed power of a full-scale sine, so levels read in
// dB re full scale.
var fullScale = func() float64 {
	var s float64
	for _, v := range hann {
		s += v * v
	}
	return nfft * s / 4 // Parseval: one side of the spectrum of a unit sine holds nfft·Σw²/4
}()

const (
	noiseSmooth = 4  // frames averaged before minimum tracking (64 ms)
	noiseHalfW  = 78 // minimum over ±78 frames (±1.25 s)
	noiseBiasDB = 1.5
)

// analyse computes the features of every frame of x (16 kHz mono).
func analyse(x []float32) []Frame {
	fr, _ := analyseBands(x)
	return fr
}

// analyseBands is analyse that also returns each frame's speech-band
// powers (the nBands log-spaced bands, linear), for prompt templates.
func analyseBands(x []float32) ([]Frame, [][nBands]float64) {
	if len(x) < frameLen {
		return nil, nil
	}
	nf := 1 + (len(x)-frameLen)/hop
	lastBin := bandEdges[nBands]
	f := newFFT(nfft)
	pow := make([]float32, nf*highHiBin) // power spectrum to 7.5 kHz per frame
	tilt := make([][3]float64, nf)
	band := make([][]float64, nBands)
	for b := range band {
		band[b] = make([]float64, nf)
	}
	for t := range nf {
		seg := x[t*hop : t*hop+frameLen]
		for i := range nfft {
			f.im[i] = 0
			if i < frameLen {
				f.re[i] = float64(seg[i]) * hann[i]
			} else {
				f.re[i] = 0
			}
		}
		f.transform(false)
		p := pow[t*highHiBin : (t+1)*highHiBin]
		for k := range highHiBin {
			p[k] = float32(f.re[k]*f.re[k] + f.im[k]*f.im[k])
		}
		var lo, mid, hi float64
		for k := lowLoBin; k < highHiBin; k++ {
			v := f.re[k]*f.re[k] + f.im[k]*f.im[k]
			switch {
			case k < midLoBin:
				lo += v
			case k < midHiBin:
				mid += v
			default:
				hi += v
			}
		}
		tilt[t] = [3]float64{lo + 1e-12, mid + 1e-12, hi + 1e-12}
		for b := range nBands {
			var s float64
			for k := bandEdges[b]; k < bandEdges[b+1]; k++ {
				s += float64(p[k])
			}
			band[b][t] = s + 1e-12
		}
	}
	noise := make([][]float64, nBands)
	for b := range band {
		noise[b] = floorTrack(band[b])
	}
	frames := make([]Frame, nf)
	lvl := make([]float64, nf)
	spec := make([]float64, lastBin)
	exc := make([]float32, nf*heldBins) // √excess, bins harmLoBin..lastBin, per frame
	for t := range nf {
		var sig, nse, snr float64
		for b := range nBands {
			sig += band[b][t]
			nse += noise[b][t]
			r := band[b][t] / noise[b][t]
			if r > 1 {
				snr += 10 * math.Log10(r)
			}
		}
		fr := &frames[t]
		fr.LevelDB = 10 * math.Log10(sig/fullScale)
		fr.NoiseDB = 10 * math.Log10(nse/fullScale)
		fr.SNR = snr / nBands
		fr.LowDB = 10 * math.Log10(tilt[t][0]/tilt[t][1])
		fr.HighDB = 10 * math.Log10(tilt[t][2]/tilt[t][1])
		lvl[t] = fr.LevelDB
		// Noise-whitened excess spectrum: what stands above the floor.
		p := pow[t*highHiBin : (t+1)*highHiBin]
		var tot float64
		for b := range nBands {
			nb := noise[b][t] / float64(bandEdges[b+1]-bandEdges[b])
			for k := bandEdges[b]; k < bandEdges[b+1]; k++ {
				e := float64(p[k])/nb - 1
				if e < 0 || k < harmLoBin {
					e = 0
				}
				spec[k] = e
				tot += e
			}
		}
		for k := 0; k < bandEdges[0]; k++ {
			spec[k] = 0
		}
		if tot <= 0 {
			continue
		}
		var kp int
		fr.Tonal, kp = peakShare(spec, tot)
		var hiLag int
		fr.Harm, fr.Pitch, fr.HighF0, hiLag = pitch(f, spec)
		if fr.HighF0 && fr.Tonal >= notchShare {
			// A tone over 400 Hz holds much of the frame (a siren, a
			// beep): notch it and its harmonics out and, if enough is
			// left to be something else (a voice under the siren), look
			// again. The frame keeps Tonal and is marked.
			var left float64
			notched := make([]int, 0, 16)
			// The strongest peak may be a harmonic of the tone: its
			// fundamental is the periodicity over 400 Hz, refined by
			// the peak's own bin.
			f0 := float64(kp)
			if hiLag > 0 {
				if m := math.Round(float64(kp) * float64(hiLag) / nfft); m >= 1 {
					f0 = float64(kp) / m
				}
			}
			for h := 1; float64(h)*f0-notchHalf < float64(lastBin); h++ {
				c := int(math.Round(float64(h) * f0))
				for k := max(0, c-notchHalf); k <= min(lastBin-1, c+notchHalf); k++ {
					if spec[k] > 0 {
						notched = append(notched, k)
					}
				}
			}
			var tone float64
			for _, k := range notched {
				left -= spec[k]
				if k >= bandEdges[0] {
					tone += float64(p[k])
				}
			}
			left += tot
			// The syllabic modulation is measured on what the tone
			// leaves: a siren's steady level would flatten it.
			lvl[t] = 10 * math.Log10(max(sig-tone, 1e-12)/fullScale)
			// The band levels too are of what the tone leaves: a
			// siren fills the telephone band and would make any voice
			// under it look band-limited.
			for h := 1; float64(h)*f0-notchHalf < highHiBin; h++ {
				c := int(math.Round(float64(h) * f0))
				for k := max(midLoBin, c-notchHalf); k <= min(highHiBin-1, c+notchHalf); k++ {
					if k >= midHiBin {
						tilt[t][2] -= float64(p[k])
					} else {
						tilt[t][1] -= float64(p[k])
					}
				}
			}
			tilt[t][1], tilt[t][2] = max(tilt[t][1], 1e-12), max(tilt[t][2], 1e-12)
			fr.LowDB = 10 * math.Log10(tilt[t][0]/tilt[t][1])
			fr.HighDB = 10 * math.Log10(tilt[t][2]/tilt[t][1])
			if left >= notchLeft*tot {
				for _, k := range notched {
					spec[k] = 0
				}
				fr.Harm, fr.Pitch, fr.HighF0, _ = pitch(f, spec)
				fr.Notched = true
			}
		}
		e := exc[t*heldBins : (t+1)*heldBins]
		for k := range e {
			e[k] = float32(math.Sqrt(spec[harmLoBin+k]))
		}
	}
	modulation(frames, lvl)
	held(frames, exc)
	bands := make([][nBands]float64, nf)
	for t := range nf {
		for b := range nBands {
			bands[t][b] = band[b][t]
		}
	}
	return frames, bands
}

// floorTrack follows the noise floor of one band: the energy smoothed over
// noiseSmooth frames, then the minimum over a sliding ±noiseHalfW window
// (minimum statistics, Martin 2001, simplified), raised by a fixed bias for
// the minimum of a fluctuating estimate lying under its mean.
func floorTrack(e []float64) []float64 {
	n := len(e)
	sm := make([]float64, n)
	var acc float64
	for i := range n {
		acc += e[i]
		if i >= noiseSmooth {
			acc -= e[i-noiseSmooth]
		}
		sm[i] = acc / float64(min(i+1, noiseSmooth))
	}
	// Centre the smoothing.
	shift := noiseSmooth / 2
	c := make([]float64, n)
	for i := range n {
		c[i] = sm[min(n-1, i+shift)]
	}
	out := make([]float64, n)
	bias := math.Pow(10, noiseBiasDB/10)
	// Sliding minimum with a monotonic deque.
	dq := make([]int, 0, 2*noiseHalfW+2)
	next := 0
	for i := range n {
		for next < n && next <= i+noiseHalfW {
			for len(dq) > 0 && c[dq[len(dq)-1]] >= c[next] {
				dq = dq[:len(dq)-1]
			}
			dq = append(dq, next)
			next++
		}
		for dq[0] < i-noiseHalfW {
			dq = dq[1:]
		}
		out[i] = c[dq[0]] * bias
	}
	return out
}

// Notching of tones: a frame periodic over 400 Hz whose strongest peak
// holds at least notchShare of its excess spectrum has that peak and its
// harmonics, ±notchHalf bins, removed and its pitch analysed again.
// Only when at least notchLeft of the excess lies outside the notches:
// a tone alone stays a tone.
const (
	notchShare = 0.3
	notchHalf  = 3
	notchLeft  = 0.1
)

// peakShare is the share of the excess spectrum within ±3 bins (±47 Hz) of
// its strongest bin, and that bin: near 1 for a single tone (a siren's
// sweep), low for speech, whose energy spreads over many harmonics and
// formants.
func peakShare(spec []float64, tot float64) (float64, int) {
	best := 0
	for k := range spec {
		if spec[k] > spec[best] {
			best = k
		}
	}
	var s float64
	for k := max(0, best-3); k <= min(len(spec)-1, best+3); k++ {
		s += spec[k]
	}
	return s / tot, best
}

// pitch autocorrelates the whitened excess spectrum (the inverse FFT of a
// power spectrum is the autocorrelation), undoes the window taper, and
// returns the highest peak at a 75–400 Hz lag. highF0 reports a stronger
// periodicity at a shorter lag (fundamental above 400 Hz): a tone, not a
// voice.
func pitch(f *fft, spec []float64) (harm, hz float64, highF0 bool, hiLag int) {
	for i := range nfft {
		f.re[i], f.im[i] = 0, 0
	}
	for k, v := range spec {
		f.re[k] = v
		if k > 0 {
			f.re[nfft-k] = v
		}
	}
	f.transform(true)
	r0 := f.re[0]
	if r0 <= 0 {
		return 0, 0, false, 0
	}
	norm := func(l int) float64 { return f.re[l] / r0 / hannACF[l] }
	bestLag, best := 0, 0.0
	for l := minLag; l <= maxLag; l++ {
		v := norm(l)
		if v > best && v >= norm(l-1) && v >= norm(l+1) {
			best, bestLag = v, l
		}
	}
	hi := 0.0
	for l := toneLag; l < minLag; l++ {
		v := norm(l)
		if v > hi && v >= norm(l-1) && v >= norm(l+1) {
			hi, hiLag = v, l
		}
	}
	if best > 1 {
		best = 1
	}
	if bestLag == 0 {
		return 0, 0, hi > 0.5, hiLag
	}
	// Parabolic interpolation of the peak: a lag step is 1–5 % of the
	// pitch, too coarse to tell a held note from a gliding voice.
	lag := float64(bestLag)
	if a, b, c := norm(bestLag-1), norm(bestLag), norm(bestLag+1); a-2*b+c < 0 {
		lag += 0.5 * (a - c) / (a - 2*b + c)
	}
	return best, float64(Rate) / lag, hi > 0.5 && hi >= 0.9*best, hiLag
}

// modulation fills Frame.Mod: the band level (in a frame with a tone over
// 400 Hz holding much of it, the level of what the tone and its harmonics
// leave, so a siren's steady level does not hide a voice's syllables) (dB, floored 20 dB under the
// clip's median so silence does not add digital noise) band-passed to
// 2–8 Hz as the difference of a 48 ms and a 320 ms moving average, then its
// RMS over ±0.5 s. Syllables modulate speech at 2–8 Hz by 10 dB and more;
// engines, sirens, hiss and rumble are nearly steady.
func modulation(frames []Frame, lvl []float64) {
	n := len(lvl)
	short := movingAvg(lvl, 3)
	long := movingAvg(lvl, 21)
	bp := make([]float64, n)
	for i := range n {
		d := short[i] - long[i]
		bp[i] = d * d
	}
	ms := movingAvg(bp, 63)
	for i := range n {
		frames[i].Mod = math.Sqrt(ms[i])
	}
}

// movingAvg is a centred moving average of width w (odd), shrinking at the
// edges.
func movingAvg(x []float64, w int) []float64 {
	n := len(x)
	pre := make([]float64, n+1)
	for i, v := range x {
		pre[i+1] = pre[i] + v
	}
	out := make([]float64, n)
	h := w / 2
	for i := range n {
		a, b := max(0, i-h), min(n, i+h+1)
		out[i] = (pre[b] - pre[a]) / float64(b-a)
	}
	return out
}

// Recurrence lags of Frame.Held, in frames: 128–320 ms, longer than a
// phoneme's steady part and than one vibrato cycle.
const (
	heldMinLag = 8
	heldMaxLag = 20
)

// heldBins is the width of the spectrum compared: harmLoBin (250 Hz) to
// the top of the speech band (4000 Hz).
var heldBins = bandEdges[nBands] - harmLoBin

// held fills Frame.Held from the per-frame √excess spectra (heldBins a
// frame): for every pair of frames heldMinLag..heldMaxLag apart, the
// cosine similarity, kept as the best of each frame of the pair.
func held(frames []Frame, exc []float32) {
	n := len(frames)
	norm := make([]float64, n)
	for t := range n {
		var s float64
		for _, v := range exc[t*heldBins : (t+1)*heldBins] {
			s += float64(v) * float64(v)
		}
		norm[t] = math.Sqrt(s)
	}
	for t := range n {
		if norm[t] == 0 {
			continue
		}
		a := exc[t*heldBins : (t+1)*heldBins]
		for l := heldMinLag; l <= heldMaxLag && t+l < n; l++ {
			if norm[t+l] == 0 {
				continue
			}
			b := exc[(t+l)*heldBins : (t+l+1)*heldBins]
			var dot float32
			for k, v := range a {
				dot += v * b[k]
			}
			c := float64(dot) / (norm[t] * norm[t+l])
			frames[t].Held = max(frames[t].Held, c)
			frames[t+l].Held = max(frames[t+l].Held, c)
		}
	}
}

// Features returns the per-frame features of 16 kHz mono samples.
func Features(x []float32) []Frame { return analyse(x) }
