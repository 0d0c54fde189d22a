package main

import (
	"flag"
	"math/rand/v2"
	"testing"
	"time"
)

var crashSeedFlag = flag.Uint64("crash.seed", 0, "seed of the crash tests' random moments (0: from the clock)")

// crashSeed returns the seed of this run's random moments and logs it, so a
// failing run can be repeated with -crash.seed.
func crashSeed(t *testing.T) *rand.Rand {
	seed := *crashSeedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (repeat with -crash.seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed>>1|1))
}

// crashKillFootage: 176 segments of 200 to 400 KiB, about 10 s of copying
// (every recorder at once) and 30 s of uploading of an undisturbed dock,
// which 50 kill cycles of 0.15 to 1.1 s each (plus each restart's session
// set-up) mostly use up, leaving a few seconds for the final run.
var crashKillFootage = crashFootage{Recorders: 4, Segments: 44, MinSize: 200 << 10, MaxSize: 400 << 10,
	RecRate: 2 << 20, UploadRate: 2 << 20}

// TestCrashKillDockd kills dockd with SIGKILL at 50 random moments while
// it copies footage from four recorders and uploads it, restarting it each
// time on the same data directory, then lets it finish and checks that no
// segment was lost, altered, stored twice or released without a receipt.
func TestCrashKillDockd(t *testing.T) {
	const kills, maxCopying = 50, 30
	rng := crashSeed(t)
	r := crashNewRig(t, crashKillFootage)
	began := time.Now()
	phases := map[string]int{}
	var alive time.Duration
	pause := func() { time.Sleep(150*time.Millisecond + time.Duration(rng.Int64N(int64(950*time.Millisecond)))) }
	for i := range kills {
		r.startDockd()
		up := time.Now()
		pause()
		// Kill at a random moment of copying or uploading: a dock still
		// authenticating its recorders after the restart, with nothing to
		// upload, is doing neither; and after maxCopying kills while
		// copying the rest go to the uploads (so both phases get kills
		// however fast this machine copies).
		st, err := r.status()
		for wait := time.Now().Add(time.Minute); ; {
			ph := crashPhase(st)
			if err == nil && (ph == "uploading" || ph == "copying" && phases["copying"] < maxCopying) {
				break
			}
			if err == nil && ph == "other" && crashSettled(st) || time.Now().After(wait) {
				r.killDockd()
				t.Fatalf("kill %d: nothing left to copy or upload (%s, %v): the footage is too small for %d kills", i+1, crashProgress(st), err, kills)
			}
			time.Sleep(20 * time.Millisecond)
			if st, err = r.status(); err == nil && crashPhase(st) != ph {
				pause() // a random moment of the new phase
				st, err = r.status()
			}
		}
		r.killDockd()
		if testing.Verbose() {
			t.Logf("kill %d after %s: %s", i+1, time.Since(up).Round(time.Millisecond), crashProgress(st))
		}
		alive += time.Since(up)
		phases[crashPhase(st)]++
	}
	killed := time.Since(began)
	t.Logf("%d kills in %s (dockd alive %s in all): %d while copying, %d while only uploading",
		kills, killed.Round(time.Millisecond), alive.Round(time.Millisecond), phases["copying"], phases["uploading"])

	r.startDockd()
	r.waitSettled(2 * time.Minute)
	t.Logf("settled %s after the last kill, %s in all", time.Since(began.Add(killed)).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	r.stopDockd()
	r.report(r.check())
}
