package reasoncheck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/berthdock/berth/cloud/audio"
	"github.com/berthdock/berth/cloud/vad"
)

// The wearer-or-bystander decision for a voice alone in the window rests
// on its level: a mouth 25 cm from the microphone is 20 dB louder than a
// talker 2.5 m away, and nothing else in one voice tells them apart
// outdoors. That level is the microphone's: a recorder model that records
// 12 dB quieter than the reference judges every wearer a bystander (the
// development sets at -12 dB: 22/48 and 32/60 right instead of 47/48 and
// 58/60), and one 6 dB louder judges bystanders the wearer (5 of 30
// negatives spoken). So the level rule is calibrated per fleet: Calibrate
// measures clips of officers stating a reason with the fleet's recorders
// against ReferenceWearerDBFS, and Opts.MicGainDB carries the result.

// ReferenceWearerDBFS is the level (dBFS, the 80th percentile of the
// voiced frames' speech-band level) at which the reference recorder
// records a wearer stating a reason: the median over the wearer clips of
// the development sets (shared/audio-dev and audio-dev-v2, the loudest
// voice region of each clip labelled spoken). vad.DefaultOpts.NearField
// sits 8 dB under it.
const ReferenceWearerDBFS = -13.7

// MaxMicGainDB bounds a calibration: beyond it the recorder is broken or
// the clips are not of a wearer speaking.
const MaxMicGainDB = 30.0

// ErrCalibration is returned when clips cannot calibrate a fleet.
var ErrCalibration = errors.New("reasoncheck: calibration")

// Calibration is what Calibrate measured.
type Calibration struct {
	// Levels are the wearer's level in each clip (dBFS), NaN where a clip
	// held no voice the detector would take for a talker in the room.
	Levels []float64
	// Used is how many clips held a voice; MedianDBFS their median level.
	Used       int
	MedianDBFS float64
	// MicGainDB is MedianDBFS - ReferenceWearerDBFS: Opts.MicGainDB.
	MicGainDB float64
}

// Calibrate measures a fleet's microphones from clips of officers stating
// a reason with its recorders (decoded; at least three), each with the
// wearer speaking in the first window of p and no one else louder. In
// each clip the loudest region of voice the detector judges a talker in
// the room (not noise, music, a loudspeaker or the prompt), whatever its
// level, is the wearer's.
func Calibrate(ctx context.Context, clips []*audio.Clip, p Policy) (Calibration, error) {
	p, err := p.withDefaults()
	if err != nil {
		return Calibration{}, err
	}
	vo := detectorOpts(nil, 0)
	vo.NearField = math.Inf(-1) // every talker in the room is a candidate
	vo.BelowPeak = math.Inf(1)
	det := vad.New(vo)
	c := Calibration{Levels: make([]float64, len(clips))}
	var used []float64
	for i, clip := range clips {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		c.Levels[i] = math.NaN()
		if clip == nil || len(clip.Samples) == 0 {
			continue
		}
		clip = audio.Resample(clip, vad.Rate)
		if n := int(p.Window.Seconds() * float64(clip.Rate)); len(clip.Samples) > n {
			clip = &audio.Clip{Rate: clip.Rate, Samples: clip.Samples[:n], Channels: clip.Channels}
		}
		act, err := det.Detect(clip.Samples, clip.Rate)
		if err != nil {
			return c, fmt.Errorf("%w: clip %d: detect: %w", ErrCalibration, i+1, err)
		}
		for _, g := range act.Regions {
			if g.Source == vad.SourceWearer && (math.IsNaN(c.Levels[i]) || g.LevelDBFS > c.Levels[i]) {
				c.Levels[i] = g.LevelDBFS
			}
		}
		if !math.IsNaN(c.Levels[i]) {
			used = append(used, c.Levels[i])
		}
	}
	c.Used = len(used)
	if c.Used < 3 {
		return c, fmt.Errorf("%w: %d of %d clips hold a voice; at least 3 are needed", ErrCalibration, c.Used, len(clips))
	}
	slices.Sort(used)
	c.MedianDBFS = used[len(used)/2]
	if len(used)%2 == 0 {
		c.MedianDBFS = (used[len(used)/2-1] + used[len(used)/2]) / 2
	}
	c.MicGainDB = math.Round((c.MedianDBFS-ReferenceWearerDBFS)*10) / 10
	if math.Abs(c.MicGainDB) > MaxMicGainDB {
		return c, fmt.Errorf("%w: the wearers measure %.1f dBFS, %+.1f dB from the reference: beyond ±%.0f dB, the recorder or the clips are wrong",
			ErrCalibration, c.MedianDBFS, c.MicGainDB, MaxMicGainDB)
	}
	return c, nil
}
