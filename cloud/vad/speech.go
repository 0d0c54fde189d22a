package vad

// judge decides, frame by frame, which frames of a wearer region (and of
// the stretch to the next wearer region of the same utterance) are the
// wearer's speech time. A frame is
//   - the prompt, when it matches an enrolled prompt: never speech, and a
//     pause across it is not bridged;
//   - a tone (a beep, a siren: periodic over 400 Hz, holding most of the
//     spectrum): not speech, and between words not a pause to bridge,
//     unless tones fill most of the stretch (a siren hiding the words,
//     maskShare);
//   - background: voiced or active, but more than Opts.Background under
//     the region's level (a bystander, babble between the words);
//   - the wearer: voiced, or activeDB over the floor (unvoiced
//     consonants), and not background;
//   - a pause otherwise.
//
// Pauses (and background) up to Opts.BridgeGap between two wearer frames
// are bridged: they are the wearer's speech time, as a listener would
// count them; longer ones are not.
type judge struct {
	o        Opts
	fr       []Frame
	voiced   []bool
	isPrompt func(int) bool
	floor    float64 // the clip's median noise floor
	level    float64 // the region's level (Region.LevelDBFS)
}

func tone(f *Frame) bool { return f.HighF0 && f.Tonal >= 0.5 }

// wearer reports whether frame i is the wearer's own.
func (j judge) wearer(i int) bool {
	f := &j.fr[i]
	if j.isPrompt(i) {
		return false
	}
	if !j.voiced[i] && (tone(f) || f.LevelDB-min(f.NoiseDB, j.floor) < activeDB) {
		return false
	}
	return f.LevelDB >= j.level-j.o.Background
}

// count marks the speech frames of [a, end) in speech and returns how
// many there are.
func (j judge) count(a, end int, speech []bool) int {
	tones := 0
	for i := a; i < end; i++ {
		if tone(&j.fr[i]) {
			tones++
		}
	}
	masking := float64(tones) >= maskShare*float64(end-a)
	bridge := frames(j.o.BridgeGap)
	cnt, last := 0, -1
	for i := a; i < end; i++ {
		if !j.wearer(i) {
			continue
		}
		if last >= 0 && i-last-1 <= bridge && j.pause(last+1, i, masking) {
			for m := last + 1; m < i; m++ {
				speech[m] = true
			}
			cnt += i - last - 1
		}
		speech[i] = true
		cnt++
		last = i
	}
	return cnt
}

// pause reports whether the frames [a, b) between two wearer frames may be
// bridged: no prompt, and no tone unless tones mask the stretch.
func (j judge) pause(a, b int, masking bool) bool {
	for m := a; m < b; m++ {
		if j.isPrompt(m) || !masking && tone(&j.fr[m]) {
			return false // a beep or the prompt between words is not a pause
		}
	}
	return true
}
