package collector_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/reasoncheck"
)

// BenchmarkTLReasonCheckFixtureMP4 is the spoken-reason check the way the
// collector runs it on a resumed segment: an MP4 from the evidence store
// (fixture clip 4, H.264 and AAC, a spoken reason at its start), demuxed,
// its AAC decoded through ffmpeg (a process per check), resampled, and the
// detector run. BenchmarkReasonCheck30s in cloud/reasoncheck measures the
// detector alone on a 30 s window; this adds the decode (an ffmpeg start
// costs about 0.1 s of CPU whatever the window). Run on one core:
//
//	go test -run '^$' -bench TLReasonCheckFixtureMP4 -cpu 1 ./cloud/collector
func BenchmarkTLReasonCheckFixtureMP4(b *testing.B) {
	clip4 := collector.FixtureClip4(b)
	// A full 30 s opening window: pink noise, AAC in MP4, made by ffmpeg.
	long := filepath.Join(b.TempDir(), "window30s.mp4")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi",
		"-i", "anoisesrc=d=30:c=pink:r=16000:a=0.05", "-c:a", "aac", "-b:a", "32k", "-y", long).CombinedOutput(); err != nil {
		b.Fatalf("make the 30 s window: %v: %s", err, out)
	}
	noise30, err := os.ReadFile(long)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		raw    []byte
		spoken bool
	}{{"clip4-10s-spoken", clip4, true}, {"noise-30s", noise30, false}} {
		b.Run(bc.name, func(b *testing.B) {
			c := reasoncheck.New(nil)
			ctx := context.Background()
			var res reasoncheck.Result
			var err error
			b.SetBytes(int64(len(bc.raw)))
			cpu0, cpuOK := tlCPUTime()
			for b.Loop() {
				if res, err = c.Check(ctx, bytes.NewReader(bc.raw), int64(len(bc.raw)), reasoncheck.DefaultPolicy()); err != nil {
					b.Fatal(err)
				}
			}
			if res.ReasonSpoken != bc.spoken || res.WindowSeconds <= 0 {
				b.Fatalf("verdict %v, want %v: %+v", res.ReasonSpoken, bc.spoken, res)
			}
			cpu1, _ := tlCPUTime()
			per := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(res.WindowSeconds, "audio-s/op")
			b.ReportMetric(res.WindowSeconds/per, "x-realtime")
			if cpuOK {
				// CPU time of the check and its ffmpeg child: with -cpu 1,
				// the wall time on an otherwise idle core.
				cpu := (cpu1 - cpu0).Seconds() / float64(b.N)
				b.ReportMetric(cpu*1000, "cpu-ms/op")
				b.ReportMetric(res.WindowSeconds/cpu, "x-realtime-cpu")
			}
		})
	}
}
