package collector

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/analysis"
	"github.com/berthdock/berth/cloud/reasoncheck"
	"github.com/berthdock/berth/cloud/vad"
)

// reasonChecker gives the analysis engine the spoken-reason check, with
// the microphone calibration of the recording's model (byModel) or else
// the fleet's (fleet).
type reasonChecker struct {
	fleet   *reasoncheck.Checker
	byModel map[string]*reasoncheck.Checker
}

// newReasonChecker checks the calibrations (fleetKey and modelsKey name
// the settings in errors) and builds a checker per calibrated model.
func newReasonChecker(prompts []*vad.Prompt, fleet float64, byModel map[string]float64, fleetKey, modelsKey string) (reasonChecker, error) {
	if math.IsNaN(fleet) || math.Abs(fleet) > reasoncheck.MaxMicGainDB {
		return reasonChecker{}, fmt.Errorf("%s %v: beyond ±%.0f dB", fleetKey, fleet, reasoncheck.MaxMicGainDB)
	}
	r := reasonChecker{fleet: reasoncheck.NewWithOpts(reasoncheck.Opts{Prompts: prompts, MicGainDB: fleet}),
		byModel: make(map[string]*reasoncheck.Checker, len(byModel))}
	for model, g := range byModel {
		if model == "" {
			return reasonChecker{}, fmt.Errorf("%s: a calibration for an empty model name", modelsKey)
		}
		if math.IsNaN(g) || math.Abs(g) > reasoncheck.MaxMicGainDB {
			return reasonChecker{}, fmt.Errorf("%s[%q] %v: beyond ±%.0f dB", modelsKey, model, g, reasoncheck.MaxMicGainDB)
		}
		r.byModel[model] = reasoncheck.NewWithOpts(reasoncheck.Opts{Prompts: prompts, MicGainDB: g})
	}
	return r, nil
}

func (r reasonChecker) Check(ctx context.Context, footage io.ReaderAt, size int64, model string, window, minSpeech time.Duration) (analysis.Verdict, error) {
	c, calibration := r.fleet, "the fleet's microphone calibration"
	if mc, ok := r.byModel[model]; ok {
		c, calibration = mc, fmt.Sprintf("model %s's microphone calibration", model)
	}
	res, err := c.Check(ctx, footage, size, reasoncheck.Policy{Window: window, MinSpeech: minSpeech})
	if err != nil {
		return analysis.Verdict{}, err
	}
	regs := make([]alert.SpeechRegion, len(res.Regions))
	for i, g := range res.Regions {
		regs[i] = alert.SpeechRegion{Start: g.Start, End: g.End, Source: g.Source, Counted: g.Wearer, SpeechSeconds: g.SpeechSeconds, Why: g.Why}
	}
	return analysis.Verdict{Spoken: res.ReasonSpoken, SpeechSeconds: res.SpeechSeconds, Onset: res.OnsetSeconds, Regions: regs,
		Detail: fmt.Sprintf("%s %d Hz, noise %.1f dBFS, speech %.1f dBFS, %s, detector %s", res.Codec, res.Rate, res.NoiseDBFS, res.SpeechDBFS, calibration, res.Detector)}, nil
}
