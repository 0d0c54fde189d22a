package reasoncheck

import (
	"context"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/audio"
)

// BenchmarkReasonCheck30s measures the check of a 30 s opening window at
// 16 kHz (talker over pink noise) on one goroutine. The target is 100× real
// time: under 0.3 s per window.
func BenchmarkReasonCheck30s(b *testing.B) {
	x := make([]float32, 30*sr)
	noise(x, 1, -40, 1)
	voice(x, 2, 6, 140, -14, 2)
	voice(x, 15, 4, 210, -16, 3)
	gain(x, scene)
	clip := &audio.Clip{Rate: sr, Samples: x, Channels: 1, Codec: "pcm_s16le"}
	c := New(nil)
	ctx := context.Background()
	b.SetBytes(int64(len(x) * 2))
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.CheckClip(ctx, clip, Policy{}); err != nil {
			b.Fatal(err)
		}
	}
	per := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric((30*time.Second).Seconds()/per, "x-realtime")
}
