package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/buffer/powercut"
	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
)

// crashPowerCutFootage: as crashKillFootage, 64 segments for a round of
// 20 cuts.
var crashPowerCutFootage = func() crashFootage {
	fp := crashKillFootage
	fp.Segments = 16
	return fp
}()

// crashPowerCutRound is the number of cuts one test world takes; a longer
// run (BERTH_POWERCUTS) is made of rounds, each in a new world, so the
// footage stays small.
const crashPowerCutRound = 20

// TestCrashPowerCutDockd is TestCrashKillDockd with power cuts instead of
// SIGKILLs: dockd's data directory (the badger buffer with its outbox, and
// the audit log) lives on a powercut filesystem (FUSE), and at each random
// moment of copying or uploading dockd is killed and every byte its files
// got after their last fsync is dropped. After each cut, before dockd
// starts again, a copy of what survived is opened as a buffer: every
// segment the dock had reported to the collector as buffered and that the
// collector has not receipted must be in it, committed (and, for up to six
// of them per cut, with the recorder's bytes). At the end of each round of
// 20 cuts nothing may be lost, altered, stored twice or released without
// a receipt.
//
// BERTH_POWERCUTS sets the number of cuts (20 is one round; the long run
// is BERTH_POWERCUTS=500, 25 rounds). It needs /dev/fuse and root
// (mount(2)); it skips without /dev/fuse unless BERTH_REQUIRE_FUSE=1.
//
// CI runs one round. It found the buffer's durability bug (a segment the
// dock had reported buffered read back after a cut with a value-log
// checksum mismatch): badger's own Sync left rotated logs and
// flushed-table pointers ahead of the value log; the buffer now runs
// badger with SyncWrites (see agent/buffer's doc and its
// TestCommittedSurvivesCut, which shows the bug in one deterministic cut).
func TestCrashPowerCutDockd(t *testing.T) {
	cuts := crashPowerCutRound
	if s := os.Getenv("BERTH_POWERCUTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("BERTH_POWERCUTS=%q: want a number of cuts", s)
		}
		cuts = n
	}
	if _, err := os.Stat("/dev/fuse"); err != nil && os.Getenv("BERTH_REQUIRE_FUSE") == "" {
		t.Skipf("no /dev/fuse: %v (BERTH_REQUIRE_FUSE=1 demands it)", err)
	}
	rng := crashSeed(t)
	var total powerCutTally
	var totalTally testworld.Tally
	began := time.Now()
	for round := 0; cuts > 0; round++ {
		n := min(cuts, crashPowerCutRound)
		cuts -= n
		ok := t.Run(fmt.Sprintf("round-%d", round+1), func(t *testing.T) {
			tally, c := crashPowerCutRoundRun(t, rng, n)
			total.add(tally)
			totalTally.Segments += c.Segments
			totalTally.Released += c.Released
			totalTally.Objects += c.Objects
			totalTally.Lost += c.Lost
			totalTally.Altered += c.Altered
			totalTally.StoredTwice += c.StoredTwice
			totalTally.BadReceipts += c.BadReceipts
			totalTally.ReleasedUnreceipted += c.ReleasedUnreceipted
			totalTally.ReleasedBeforeReceipt += c.ReleasedBeforeReceipt
		})
		if !ok {
			break
		}
	}
	t.Logf("in all: %d power cuts in %s (%d while copying, %d while only uploading), %d unsynced bytes in %d file versions dropped",
		total.cuts, time.Since(began).Round(time.Second), total.copying, total.uploading, total.droppedBytes, total.droppedFiles)
	t.Logf("in all: %d checks after a cut of a segment reported buffered and not receipted (%d byte-exact): %d lost from the buffer, %d altered in it",
		total.checked, total.hashed, total.lost, total.altered)
	t.Logf("in all: %v", totalTally)
}

// crashPowerCutRoundRun runs one world through cuts power cuts and checks it.
func crashPowerCutRoundRun(t *testing.T, rng *rand.Rand, cuts int) (powerCutTally, testworld.Tally) {
	// Mounted before the rig so that it is unmounted after dockd is gone.
	pc, err := powercut.Mount(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pc.Unmount(); err != nil {
			t.Error(err)
		}
	})
	r := crashNewRig(t, crashPowerCutFootage)
	r.w.DockCfg.DataDir = filepath.Join(pc.Mnt, "data")
	began := time.Now()

	tally := powerCutTally{cuts: cuts}
	phases, alive := r.killCycles(rng, cuts, cuts*3/5, func(i int, st localapi.Status) {
		t0 := time.Now()
		cut, err := pc.Cut()
		t1 := time.Now()
		if err != nil {
			t.Fatalf("cut %d: %v", i+1, err)
		}
		tally.droppedBytes += cut.DroppedBytes
		tally.droppedFiles += cut.DroppedFiles
		checked := r.checkBufferedSurvived(filepath.Join(pc.Backing, "data", "buffer"), &tally, rng)
		if testing.Verbose() {
			t.Logf("cut %d (%s, check %s): dropped %d unsynced bytes in %d files; %d segments reported buffered and not receipted, all held",
				i+1, t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond), cut.DroppedBytes, cut.DroppedFiles, checked)
		}
	})
	tally.copying, tally.uploading = phases["copying"], phases["uploading"]
	cutTime := time.Since(began)
	fs := pc.Stats()
	t.Logf("%d power cuts in %s (dockd alive %s in all): %d while copying, %d while only uploading; %d unsynced bytes in %d file versions dropped; %d writes, %d fsyncs",
		cuts, cutTime.Round(time.Millisecond), alive.Round(time.Millisecond), phases["copying"], phases["uploading"],
		tally.droppedBytes, tally.droppedFiles, fs.Writes, fs.Fsyncs)
	t.Logf("after the cuts: %d checks of a segment reported buffered and not receipted (%d byte-exact): %d lost from the buffer, %d altered in it",
		tally.checked, tally.hashed, tally.lost, tally.altered)
	if phases["copying"] == 0 || phases["uploading"] == 0 {
		t.Errorf("cuts landed %d times in copying and %d times in uploading: want both", phases["copying"], phases["uploading"])
	}
	if tally.droppedBytes == 0 {
		t.Errorf("no cut dropped any unsynced byte: the filesystem saw no unsynced write")
	}
	if tally.checked == 0 {
		t.Errorf("no cut came after a segment was reported buffered and before its receipt")
	}

	r.setUploadRate(4 << 20)
	r.startDockd()
	r.waitSettled(2 * time.Minute)
	t.Logf("settled %s after the last cut, %s in all", time.Since(began.Add(cutTime)).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	r.stopDockd()
	c := r.check()
	r.report(c)
	return tally, c
}

type powerCutTally struct {
	cuts, copying, uploading       int
	droppedBytes, droppedFiles     int64
	checked, hashed, lost, altered int
}

func (a *powerCutTally) add(b powerCutTally) {
	a.cuts += b.cuts
	a.copying += b.copying
	a.uploading += b.uploading
	a.droppedBytes += b.droppedBytes
	a.droppedFiles += b.droppedFiles
	a.checked += b.checked
	a.hashed += b.hashed
	a.lost += b.lost
	a.altered += b.altered
}

// checkBufferedSurvived opens a copy of the buffer as a power cut left it
// (dir, on the backing directory; dockd is dead and the filesystem
// unmounted) and checks that it holds, committed and byte-exact, every
// segment the collector has as reported "buffered" by the dock and has not
// receipted.
func (r *crashRig) checkBufferedSurvived(dir string, tally *powerCutTally, rng *rand.Rand) int {
	t := r.t
	t.Helper()
	ctx := context.Background()
	// Reports the dock sent before the cut may still be on their way
	// through the broker: wait for the collector to have taken them.
	time.Sleep(50 * time.Millisecond)
	type want struct {
		serial string
		seq    uint64
	}
	var wants []want
	for _, rec := range r.w.Recs.Recorders() {
		segs, err := r.w.Col.Store().Segments(ctx, rec.Serial(), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range segs {
			if g.State != wire.SegBuffered {
				continue
			}
			if _, ok, err := r.w.Col.Store().Receipt(ctx, g.Serial, g.Seq); err != nil {
				t.Fatal(err)
			} else if !ok {
				wants = append(wants, want{g.Serial, g.Seq})
			}
		}
	}
	if len(wants) == 0 {
		return 0
	}
	began := time.Now()
	cp := filepath.Join(t.TempDir(), "buffer")
	if out, err := exec.Command("cp", "-a", dir, cp).CombinedOutput(); err != nil {
		t.Fatalf("copy the buffer: %v\n%s", err, out)
	}
	copied := time.Now()
	bo := buffer.DefaultOpts()
	bo.KeyFile, bo.Capacity = r.w.DockCfg.BufferKeyFile, int64(r.w.DockCfg.BufferCapacity)
	b, err := buffer.Open(cp, &bo)
	if err != nil {
		t.Fatalf("the buffer after a power cut does not open: %v", err)
	}
	defer b.Close()
	if testing.Verbose() {
		t.Logf("check: copy %s, open %s", copied.Sub(began).Round(time.Millisecond), time.Since(copied).Round(time.Millisecond))
	}
	orig := map[string]string{}
	for serial, segs := range r.w.Orig {
		for _, g := range segs {
			orig[fmt.Sprintf("%s/%d", serial, g.Seq)] = g.SHA256
		}
	}
	// Every one is looked up; six at random are read back whole (reading
	// all under -race would double the cycle).
	hash := map[int]bool{}
	for _, i := range rng.Perm(len(wants))[:min(6, len(wants))] {
		hash[i] = true
	}
	for i, w := range wants {
		tally.checked++
		k, err := b.Lookup(w.serial, w.seq)
		if err != nil {
			t.Fatal(err)
		}
		if k.Phase < buffer.PhaseBuffered || k.Phase == buffer.PhaseFaulty {
			tally.lost++
			t.Errorf("%s/%d: reported buffered, not receipted, and after a power cut the buffer has it in phase %d", w.serial, w.seq, k.Phase)
			continue
		}
		if !hash[i] {
			continue
		}
		tally.hashed++
		ra, err := b.Open(w.serial, w.seq)
		if err != nil {
			tally.lost++
			t.Errorf("%s/%d: reported buffered; after a power cut: %v", w.serial, w.seq, err)
			continue
		}
		h := sha256.New()
		_, err = io.Copy(h, io.NewSectionReader(ra, 0, 1<<40))
		if c, ok := ra.(io.Closer); ok {
			c.Close()
		}
		if sum := hex.EncodeToString(h.Sum(nil)); err != nil || sum != orig[fmt.Sprintf("%s/%d", w.serial, w.seq)] {
			tally.altered++
			t.Errorf("%s/%d: reported buffered; after a power cut it reads back as %s (%v), the recorder's bytes hash to %s",
				w.serial, w.seq, sum, err, orig[fmt.Sprintf("%s/%d", w.serial, w.seq)])
		}
	}
	return len(wants)
}
