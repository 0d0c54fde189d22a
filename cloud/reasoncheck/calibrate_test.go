package reasoncheck

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/berthdock/berth/cloud/audio"
)

// loadClips decodes every clip of a development set, in label order.
func loadClips(t *testing.T, dir string, labels []devLabel) []*audio.Clip {
	t.Helper()
	clips := make([]*audio.Clip, len(labels))
	for i, l := range labels {
		f, err := os.Open(filepath.Join(dir, l.File))
		if err != nil {
			t.Fatal(err)
		}
		clips[i], err = audio.DecodeWAV(f, DefaultPolicy().Window)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", l.File, err)
		}
	}
	return clips
}

// gained is clips scaled by db. A louder recorder is given the headroom
// to take it (no clipping): saturation is a distortion of its own, which
// this test does not measure (the v2 set at +6 dB clipped at full scale
// loses two more clips even calibrated exactly).
func gained(clips []*audio.Clip, db float64) []*audio.Clip {
	k := float32(math.Pow(10, db/20))
	out := make([]*audio.Clip, len(clips))
	for i, c := range clips {
		s := make([]float32, len(c.Samples))
		for j, v := range c.Samples {
			s[j] = v * k
		}
		out[i] = &audio.Clip{Rate: c.Rate, Samples: s, Channels: c.Channels, Codec: c.Codec}
	}
	return out
}

// checkClips judges clips with c on every CPU.
func checkClips(t *testing.T, c *Checker, clips []*audio.Clip) []Result {
	t.Helper()
	res := make([]Result, len(clips))
	errs := make([]error, len(clips))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				res[i], errs[i] = c.CheckClip(context.Background(), clips[i], Policy{})
			}
		})
	}
	for i := range clips {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("clip %d: %v", i, err)
		}
	}
	return res
}

func tally(labels []devLabel, res []Result) (s score) {
	for i, l := range labels {
		s.add(l, res[i])
	}
	return s
}

// TestCalibrateMicGain: the level rule belongs to the microphone. Each
// development set is played through recorders 12 dB quieter and 6 dB
// louder than the reference. Uncalibrated, the verdicts collapse (measured
// when this was built: at -12 dB 22/48 and 32/60 right; at +6 dB 5 of
// v2's 30 negatives judged spoken). Calibrate, given only the tuning
// part's clips labelled spoken, measures the gain within 1.5 dB of the
// set's own offset from the reference, and a checker with that MicGainDB
// judges the whole set (held-out part included) to the set's bar.
func TestCalibrateMicGain(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under the race detector: .ci/run runs it without -race")
	}
	for _, set := range []struct {
		env, name string
		bar       float64
	}{{"BERTH_AUDIODEV", "audio-dev", 0.95}, {"BERTH_AUDIODEV_V2", "audio-dev-v2", 0.90}} {
		t.Run(set.name, func(t *testing.T) {
			dir, labels := loadDevSet(t, set.env, set.name)
			clips := loadClips(t, dir, labels)
			var wearers []*audio.Clip
			for i, l := range labels {
				if l.Spoken && !l.heldOut {
					wearers = append(wearers, clips[i])
				}
			}
			ref, err := Calibrate(context.Background(), wearers, Policy{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("as recorded: wearers at %.1f dBFS (%d of %d clips), %+.1f dB from the reference", ref.MedianDBFS, ref.Used, len(wearers), ref.MicGainDB)
			for _, g := range []float64{-12, 6} {
				cal, err := Calibrate(context.Background(), gained(wearers, g), Policy{})
				if err != nil {
					t.Fatalf("%+g dB: %v", g, err)
				}
				if math.Abs(cal.MicGainDB-ref.MicGainDB-g) > 1.5 {
					t.Errorf("%+g dB: calibrated %+.1f dB (as recorded %+.1f)", g, cal.MicGainDB, ref.MicGainDB)
				}
				got := tally(labels, checkClips(t, NewWithOpts(Opts{MicGainDB: cal.MicGainDB}), gained(clips, g)))
				t.Logf("%+3g dB, calibrated %+.1f dB: %s", g, cal.MicGainDB, got)
				if got.acc() < set.bar || float64(got.falseSpoken) > 0.05*float64(got.neg) {
					t.Errorf("%+g dB calibrated: %s, below the set's bar (%.0f%%, at most 5%% of negatives spoken)", g, got, 100*set.bar)
				}
			}
		})
	}
}

// TestCalibrateRefuses: too few voices, or a gain no microphone has, is a
// calibration error, not a setting.
func TestCalibrateRefuses(t *testing.T) {
	silence := &audio.Clip{Rate: 16000, Samples: make([]float32, 16000*5), Channels: 1}
	if _, err := Calibrate(context.Background(), []*audio.Clip{silence, silence, silence, nil}, Policy{}); err == nil {
		t.Error("silence calibrated a fleet")
	}
	dir, labels := loadDevSet(t, "BERTH_AUDIODEV", "audio-dev")
	var three []devLabel
	for _, l := range labels {
		if l.Spoken && len(three) < 3 {
			three = append(three, l)
		}
	}
	wearers := loadClips(t, dir, three)
	if c, err := Calibrate(context.Background(), wearers, Policy{}); err != nil {
		t.Fatalf("three wearers at the reference: %v", err)
	} else if math.Abs(c.MicGainDB) > 6 {
		t.Errorf("three wearers at the reference calibrated to %+.1f dB", c.MicGainDB)
	}
	if c, err := Calibrate(context.Background(), gained(wearers, -45), Policy{}); err == nil {
		t.Errorf("a microphone 45 dB under the reference calibrated to %+.1f dB", c.MicGainDB)
	}
}
