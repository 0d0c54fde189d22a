package recsim_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// BenchmarkLinkCap reads a 32 MiB segment through the docklink client
// over TCP and reports the achieved rate against the cap (the default
// 35 MB/s, USB 2.0 CDC reality) and uncapped.
func BenchmarkLinkCap(b *testing.B) {
	const size = 32 << 20
	for _, tc := range []struct {
		name string
		rate int64
	}{
		{"cap35MBps", 0},
		{"cap10MBps", 10_000_000},
		{"uncapped", recsim.Unlimited},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r, err := recsim.Generate(1, &recsim.GenOpts{Segments: 1, MinSize: size}, &recsim.Config{Rate: tc.rate})
			if err != nil {
				b.Fatal(err)
			}
			srv := serve(b, []*recsim.Recorder{r}, nil)
			c := session(b, srv.Addr(0), keysOf(r))
			seg := r.Segments()[0]
			ctx := context.Background()
			b.SetBytes(size)
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if _, err := c.CopySegment(ctx, seg, 0, nil, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start)
			got := float64(b.N) * size / el.Seconds()
			b.ReportMetric(got/1e6, "MB/s")
			if tc.rate >= 0 {
				capRate := float64(tc.rate)
				if capRate == 0 {
					capRate = recsim.DefaultRate
				}
				b.ReportMetric(100*got/capRate, "%cap")
			}
		})
	}
}
