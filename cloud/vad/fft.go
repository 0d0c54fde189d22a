package vad

import (
	"math"
	"math/bits"
)

// fft is an in-place iterative radix-2 complex FFT of a fixed power-of-two
// size with precomputed twiddles and bit reversal. It is written here (40
// lines) rather than pulling a numerics module into go.mod for one
// transform of one size.
type fft struct {
	n     int
	cos   []float64
	sin   []float64
	rev   []int
	re    []float64
	im    []float64
	log2n int
}

func newFFT(n int) *fft {
	f := &fft{n: n, cos: make([]float64, n/2), sin: make([]float64, n/2), rev: make([]int, n),
		re: make([]float64, n), im: make([]float64, n), log2n: bits.TrailingZeros(uint(n))}
	for i := range n / 2 {
		a := -2 * math.Pi * float64(i) / float64(n)
		f.cos[i], f.sin[i] = math.Cos(a), math.Sin(a)
	}
	for i := range n {
		f.rev[i] = int(bits.Reverse(uint(i)) >> (bits.UintSize - f.log2n))
	}
	return f
}

// transform runs the forward FFT on f.re, f.im (inverse when inv: the
// conjugate twiddles, no 1/n scaling).
func (f *fft) transform(inv bool) {
	re, im := f.re, f.im
	for i, j := range f.rev {
		if i < j {
			re[i], re[j] = re[j], re[i]
			im[i], im[j] = im[j], im[i]
		}
	}
	sgn := 1.0
	if inv {
		sgn = -1
	}
	for size := 2; size <= f.n; size <<= 1 {
		half, step := size/2, f.n/size
		for start := 0; start < f.n; start += size {
			for k := range half {
				wr, wi := f.cos[k*step], sgn*f.sin[k*step]
				a, b := start+k, start+k+half
				tr := re[b]*wr - im[b]*wi
				ti := re[b]*wi + im[b]*wr
				re[b], im[b] = re[a]-tr, im[a]-ti
				re[a] += tr
				im[a] += ti
			}
		}
	}
}
