package collector

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/analysis"
	"github.com/berthdock/berth/cloud/reasoncheck"
)

// reasonChecker gives the analysis engine the spoken-reason check.
type reasonChecker struct{ c *reasoncheck.Checker }

func (r reasonChecker) Check(ctx context.Context, footage io.ReaderAt, size int64, window, minSpeech time.Duration) (analysis.Verdict, error) {
	res, err := r.c.Check(ctx, footage, size, reasoncheck.Policy{Window: window, MinSpeech: minSpeech})
	if err != nil {
		return analysis.Verdict{}, err
	}
	regs := make([]alert.SpeechRegion, len(res.Regions))
	for i, g := range res.Regions {
		regs[i] = alert.SpeechRegion{Start: g.Start, End: g.End, Source: g.Source, Counted: g.Wearer, SpeechSeconds: g.SpeechSeconds, Why: g.Why}
	}
	return analysis.Verdict{Spoken: res.ReasonSpoken, SpeechSeconds: res.SpeechSeconds, Onset: res.OnsetSeconds, Regions: regs,
		Detail: fmt.Sprintf("%s %d Hz, noise %.1f dBFS, speech %.1f dBFS, detector %s", res.Codec, res.Rate, res.NoiseDBFS, res.SpeechDBFS, res.Detector)}, nil
}
