package audio

import "math"

// Resample returns the clip at rate Hz: a windowed-sinc (Blackman, 16 zero
// crossings a side) interpolator whose cutoff is lowered to the output
// Nyquist when downsampling, so nothing aliases into the speech band. The
// clip is returned unchanged when it is already at rate.
func Resample(c *Clip, rate int) *Clip {
	if c == nil || c.Rate == rate || rate <= 0 || c.Rate <= 0 || len(c.Samples) == 0 {
		return c
	}
	ratio := float64(rate) / float64(c.Rate)
	cut := math.Min(1, ratio) // cutoff relative to the input Nyquist
	const zc = 16
	half := int(math.Ceil(zc / cut))
	n := int(float64(len(c.Samples)) * ratio)
	out := make([]float32, n)
	in := c.Samples
	for i := range out {
		x := float64(i) / ratio // position in input samples
		c0 := int(x)
		var acc, wsum float64
		for k := c0 - half + 1; k <= c0+half; k++ {
			if k < 0 || k >= len(in) {
				continue
			}
			d := x - float64(k)
			w := kernelAt(d * cut)
			acc += w * float64(in[k])
			wsum += w
		}
		if wsum != 0 {
			acc /= wsum // unity DC gain, also near the edges
		}
		out[i] = float32(acc)
	}
	return &Clip{Rate: rate, Samples: out, Channels: c.Channels, Codec: c.Codec}
}

const kernelSteps = 512 // table entries per zero crossing

var kernelTable = func() []float64 {
	t := make([]float64, 16*kernelSteps+2)
	for i := range t {
		t[i] = kernel(float64(i)/kernelSteps, 16)
	}
	return t
}()

// kernelAt interpolates the kernel table (symmetric in t).
func kernelAt(t float64) float64 {
	if t < 0 {
		t = -t
	}
	p := t * kernelSteps
	i := int(p)
	if i >= len(kernelTable)-1 {
		return 0
	}
	f := p - float64(i)
	return kernelTable[i]*(1-f) + kernelTable[i+1]*f
}

// kernel is sinc(t) under a Blackman window spanning ±zc.
func kernel(t float64, zc float64) float64 {
	if t <= -zc || t >= zc {
		return 0
	}
	var s float64 = 1
	if t != 0 {
		s = math.Sin(math.Pi*t) / (math.Pi * t)
	}
	p := (t + zc) / (2 * zc)
	w := 0.42 - 0.5*math.Cos(2*math.Pi*p) + 0.08*math.Cos(4*math.Pi*p)
	return s * w
}
