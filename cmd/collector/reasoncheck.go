package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthdock/berth/cloud/audio"
	"github.com/berthdock/berth/cloud/reasoncheck"
	"github.com/berthdock/berth/cloud/transcribe"
)

// runReasonCheck is `collector reason-check [--json] [--window 30s]
// [--min-speech 2s] [--prompt FILE]... FILE...`: the spoken-reason check on WAV or MP4 files.
// A file that cannot be checked gets an error line on stderr (and a JSON
// line with "error" under --json); the others are still checked, and the
// exit code is 1 if any failed.
func runReasonCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reason-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per file")
	window := fs.Duration("window", reasoncheck.DefaultPolicy().Window, "opening window analysed")
	minSpeech := fs.Duration("min-speech", reasoncheck.DefaultPolicy().MinSpeech, "wearer speech needed for a spoken reason")
	asrURL := fs.String("asr-url", "", "OpenAI-compatible transcription endpoint (off when empty): the wearer's speech is transcribed and classified")
	asrModel := fs.String("asr-model", "whisper-1", "model name for --asr-url")
	asrKeyEnv := fs.String("asr-key-env", "", "name of the environment variable holding the --asr-url API key")
	micGain := fs.Float64("mic-gain", 0, "the fleet's microphone calibration in dB (analysis.reason_mic_gain_db)")
	calibrate := fs.Bool("calibrate", false, "measure the microphone calibration from FILEs of officers stating a reason (at least 3) instead of checking them")
	var promptFiles []string
	fs.Func("prompt", "a recorder model's voice prompt (WAV or MP4, the prompt alone) to enrol; what matches it is the prompt, not the wearer (repeatable)", func(v string) error {
		promptFiles = append(promptFiles, v)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: collector reason-check [--json] [--window 30s] [--min-speech 2s] [--mic-gain DB] [--prompt FILE]... [--asr-url URL [--asr-model M] [--asr-key-env VAR]] FILE...")
		fmt.Fprintln(stderr, "       collector reason-check --calibrate [--json] [--window 30s] FILE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	pol := reasoncheck.Policy{Window: *window, MinSpeech: *minSpeech}
	if *window <= 0 || *minSpeech < 0 || *minSpeech > *window {
		fmt.Fprintf(stderr, "collector reason-check: bad policy: window %s, min-speech %s\n", *window, *minSpeech)
		return 2
	}
	if *calibrate {
		return runCalibrate(ctx, fs.Args(), pol, *asJSON, stdout, stderr)
	}
	if math.IsNaN(*micGain) || math.Abs(*micGain) > reasoncheck.MaxMicGainDB {
		fmt.Fprintf(stderr, "collector reason-check: --mic-gain %v: beyond ±%.0f dB\n", *micGain, reasoncheck.MaxMicGainDB)
		return 2
	}
	prompts, err := reasoncheck.LoadPromptFiles(ctx, promptFiles)
	if err != nil {
		fmt.Fprintf(stderr, "collector reason-check: %v\n", err)
		return 2
	}
	opts := reasoncheck.Opts{Prompts: prompts, MicGainDB: *micGain}
	if *asrURL != "" {
		key := ""
		if *asrKeyEnv != "" {
			key = os.Getenv(*asrKeyEnv)
		}
		tr, err := transcribe.New(transcribe.Opts{Endpoint: *asrURL, Model: *asrModel, APIKey: key})
		if err != nil {
			fmt.Fprintf(stderr, "collector reason-check: %v\n", err)
			return 2
		}
		opts.Transcriber = tr
	}
	chk := reasoncheck.NewWithOpts(opts)
	enc := json.NewEncoder(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "FILE\tSPEECH\tONSET\tNOISE\tSPEECH LEVEL\tVERDICT\tHEARD")
	}
	failed := 0
	for _, name := range fs.Args() {
		if ctx.Err() != nil {
			break
		}
		res, err := checkFile(ctx, chk, name, pol)
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "collector reason-check: %s: %v\n", name, err)
			if *asJSON {
				enc.Encode(struct {
					File  string `json:"file"`
					Error string `json:"error"`
				}{name, err.Error()})
			}
			continue
		}
		if *asJSON {
			enc.Encode(struct {
				File string `json:"file"`
				reasoncheck.Result
			}{name, res})
			continue
		}
		verdict := "NO REASON SPOKEN"
		if res.ReasonSpoken {
			verdict = "reason spoken"
		}
		onset := "-"
		if res.OnsetSeconds >= 0 {
			onset = fmt.Sprintf("%.2fs", res.OnsetSeconds)
		}
		speechLvl := "-"
		if res.SpeechSeconds > 0 {
			speechLvl = fmt.Sprintf("%.1f dBFS", res.SpeechDBFS)
		}
		fmt.Fprintf(tw, "%s\t%.2fs\t%s\t%.1f dBFS\t%s\t%s\t%s\n", name, res.SpeechSeconds, onset, res.NoiseDBFS, speechLvl, verdict, heard(res))
	}
	tw.Flush()
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "collector reason-check: interrupted")
		return 1
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "collector reason-check: %d of %d files could not be checked\n", failed, fs.NArg())
		return 1
	}
	return 0
}

func checkFile(ctx context.Context, chk *reasoncheck.Checker, name string, pol reasoncheck.Policy) (reasoncheck.Result, error) {
	f, err := os.Open(name)
	if err != nil {
		return reasoncheck.Result{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return reasoncheck.Result{}, err
	}
	if !st.Mode().IsRegular() {
		return reasoncheck.Result{}, errors.New("not a regular file")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return chk.Check(ctx, f, st.Size(), pol)
}

// heard sums the regions by judged source: "wearer 3.2s, prompt 1.1s".
func heard(res reasoncheck.Result) string {
	var order []string
	secs := map[string]float64{}
	for _, r := range res.Regions {
		if r.Source == "noise" {
			continue
		}
		if _, ok := secs[r.Source]; !ok {
			order = append(order, r.Source)
		}
		if r.Wearer {
			secs[r.Source] += r.SpeechSeconds
		} else {
			secs[r.Source] += r.End - r.Start
		}
	}
	if len(order) == 0 {
		return "-"
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%s %.1fs", s, secs[s])
	}
	return strings.Join(parts, ", ")
}

// runCalibrate is `collector reason-check --calibrate FILE...`: the
// fleet's microphone calibration from clips of officers stating a reason
// with its recorders, one line per clip and the figure to configure.
func runCalibrate(ctx context.Context, files []string, pol reasoncheck.Policy, asJSON bool, stdout, stderr io.Writer) int {
	clips := make([]*audio.Clip, len(files))
	for i, name := range files {
		f, err := os.Open(name)
		if err == nil {
			var st os.FileInfo
			if st, err = f.Stat(); err == nil {
				clips[i], err = audio.Decode(ctx, f, st.Size(), pol.Window)
			}
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "collector reason-check: %s: %v\n", name, err)
			return 1
		}
	}
	cal, err := reasoncheck.Calibrate(ctx, clips, pol)
	if asJSON {
		levels := make([]any, len(cal.Levels))
		for i, l := range cal.Levels {
			if !math.IsNaN(l) {
				levels[i] = l
			}
		}
		out := map[string]any{"files": files, "levels_dbfs": levels, "used": cal.Used, "median_dbfs": cal.MedianDBFS,
			"reference_dbfs": reasoncheck.ReferenceWearerDBFS, "mic_gain_db": cal.MicGainDB}
		if err != nil {
			out["error"] = err.Error()
		}
		json.NewEncoder(stdout).Encode(out)
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tWEARER LEVEL")
		for i, name := range files {
			lvl := "no voice"
			if i < len(cal.Levels) && !math.IsNaN(cal.Levels[i]) {
				lvl = fmt.Sprintf("%.1f dBFS", cal.Levels[i])
			}
			fmt.Fprintf(tw, "%s\t%s\n", name, lvl)
		}
		tw.Flush()
		if err == nil {
			fmt.Fprintf(stdout, "wearers at %.1f dBFS (median of %d clips); the reference is %.1f dBFS\nset analysis.reason_mic_gain_db: %.1f\n"+
				"(or, if the clips are one model's of a mixed fleet, analysis.reason_mic_gain_db_by_model: {MODEL: %.1f})\n",
				cal.MedianDBFS, cal.Used, reasoncheck.ReferenceWearerDBFS, cal.MicGainDB, cal.MicGainDB)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "collector reason-check: %v\n", err)
		return 1
	}
	return 0
}
