package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// BenchmarkDockdFourSlots runs the real dockd binary (built by the
// benchmark, CGO_ENABLED=0) on a simulated four-slot board whose links dial
// in-process recsim recorders over TCP, against an in-process collector
// (embedded broker, SQLite, directory evidence store). Each iteration is one
// shift-end docking from a fresh data directory: four recorders of 128 MiB
// each, copied, verified, uploaded, receipted and released. A sampler reads
// /proc/PID/status every 50 ms.
//
// Figures:
//
//	peak-anon-MiB   RssAnon: the heap, stacks and badger's Go-side caches
//	                (the budget is 96 MiB)
//	peak-file-MiB   RssFile: the binary's pages and badger's memory-mapped
//	                value-log and table files, file-backed and evictable
//	copy-MB/s       aggregate, dockd start → every slot buffered (or past)
//	MB/s            the framework's: dockd start → every segment released
//	peak-disk/backlog  the dock's data directory at its largest, over the
//	                footage of one docking (512 MiB)
//	end-disk/backlog   the same after every release and the buffer's
//	                reclamation (settled: unchanged for 6 s, at most 90 s)
//
// The collector, recsim and the sampler run in the benchmark's process,
// on the same cores as dockd.
//
// The "limit" variants run dockd as shipped, with its --memory-limit of
// benchMemLimit (the Go runtime's soft memory limit: the collector runs
// sooner instead of letting the heap grow to twice the live data), the
// setting the budget needs; the "nolimit" variants run it with
// --memory-limit= (none) and no GOMEMLIMIT, to show what the limit buys.
func BenchmarkDockdFourSlots(b *testing.B) {
	b.Run("capped-nolimit", func(b *testing.B) { benchDockd(b, 0, "") })
	b.Run("uncapped-nolimit", func(b *testing.B) { benchDockd(b, recsim.Unlimited, "") })
	b.Run("capped-limit", func(b *testing.B) { benchDockd(b, 0, benchMemLimit) })
	b.Run("uncapped-limit", func(b *testing.B) { benchDockd(b, recsim.Unlimited, benchMemLimit) })
}

// benchMemLimit is the --memory-limit of the "limit" variants (dockd's
// default).
const benchMemLimit = "80MiB"

const (
	benchSlots    = 4
	benchSegments = 4
	benchSegSize  = 32 << 20
)

func benchDockd(b *testing.B, rate int64, memLimit string) {
	bin := buildDockd(b)
	total := int64(benchSlots * benchSegments * benchSegSize)
	b.SetBytes(total)
	var peakAnon, peakFile, peakDisk, endDisk int64
	var copyTime time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		r := benchNewRig(b, bin, rate)
		r.memLimit = memLimit
		b.StartTimer()
		res := r.run()
		b.StopTimer()
		r.close()
		peakAnon, peakFile = max(peakAnon, res.peakAnon), max(peakFile, res.peakFile)
		peakDisk, endDisk = max(peakDisk, res.peakDisk), max(endDisk, res.endDisk)
		copyTime += res.copied
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(peakAnon)/(1<<20), "peak-anon-MiB")
	b.ReportMetric(float64(peakFile)/(1<<20), "peak-file-MiB")
	b.ReportMetric(float64(total)*float64(b.N)/copyTime.Seconds()/1e6, "copy-MB/s")
	b.ReportMetric(float64(peakDisk)/float64(total), "peak-disk/backlog")
	b.ReportMetric(float64(endDisk)/float64(total), "end-disk/backlog")
}

// benchRig is one docking's world (collector, broker and recorders in
// process; dockd a subprocess on the world's files).
type benchRig struct {
	b        *testing.B
	w        *testworld.World
	bin      string
	cfgPath  string
	logPath  string
	dataDir  string
	memLimit string // dockd's --memory-limit, "" for none
	api      *localapi.Client
}

func benchNewRig(b *testing.B, bin string, rate int64) *benchRig {
	b.Helper()
	dir := b.TempDir()
	dockID := "bench-" + randHex(4)
	log := slog.New(slog.NewTextHandler(tbWriter{b}, &slog.HandlerOptions{Level: slog.LevelError}))
	var recs []*recsim.Recorder
	for i := range benchSlots {
		rec, err := recsim.Generate(uint64(700+i), &recsim.GenOpts{Segments: benchSegments, MinSize: benchSegSize,
			Start: time.Now().Add(-9 * time.Hour)}, &recsim.Config{Serial: fmt.Sprintf("BENCH-%s-%d", dockID[6:], i), Rate: rate})
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rec)
	}
	w, err := testworld.Start(context.Background(), testworld.Config{Dir: dir, Log: log, DockID: dockID, Unit: "unit-bench",
		Recorders: recs, NoDock: true, Dock: func(dc *dock.Config) { dc.BufferCapacity, dc.StateEvery = 8<<30, 5*time.Second }})
	if err != nil {
		b.Fatal(err)
	}
	r := &benchRig{b: b, w: w, bin: bin, dataDir: w.DockCfg.DataDir, logPath: filepath.Join(dir, "dockd.log")}
	ddir := filepath.Dir(w.DockCfg.BufferKeyFile)
	board, sock := filepath.Join(ddir, "board.yaml"), filepath.Join(ddir, "dockd.sock")
	r.cfgPath = filepath.Join(ddir, "dockd.yaml")
	benchWrite(b, board, w.SimBoardYAML())
	benchWrite(b, r.cfgPath, w.DockdYAML(board, sock, 0))
	r.api = localapi.NewClient(sock)
	return r
}

func benchWrite(b *testing.B, path, s string) {
	b.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		b.Fatal(err)
	}
}

func (r *benchRig) close() {
	if err := r.w.Close(); err != nil {
		r.b.Error(err)
	}
}

// benchResult is one docking's figures.
type benchResult struct {
	peakAnon, peakFile int64
	copied             time.Duration // start → every slot buffered
	peakDisk, endDisk  int64
}

// run starts dockd, waits until every recorder released every segment, and
// stops dockd with SIGTERM.
func (r *benchRig) run() benchResult {
	b := r.b
	lf, err := os.Create(r.logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer lf.Close()
	cmd := exec.Command(r.bin, "--config", r.cfgPath, "--log-level", "warn", "--memory-limit="+r.memLimit)
	cmd.Stdout, cmd.Stderr = lf, lf
	// Only the flag sets the limit: a GOMEMLIMIT inherited from the
	// environment would win over it.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	samp := benchSample(cmd.Process.Pid)

	var res benchResult
	deadline := time.Now().Add(10 * time.Minute)
	for {
		select {
		case err := <-exited:
			samp.stop()
			log, _ := os.ReadFile(r.logPath)
			b.Fatalf("dockd exited: %v\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
		res.peakDisk = max(res.peakDisk, benchDiskUse(r.dataDir))
		if res.copied == 0 && r.allBuffered() {
			res.copied = time.Since(start)
		}
		if r.allReleased() {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			samp.stop()
			log, _ := os.ReadFile(r.logPath)
			b.Fatalf("not every segment released within 10 min\n%s", log)
		}
	}
	if res.copied == 0 {
		res.copied = time.Since(start)
	}
	b.StopTimer()
	defer func() {
		// BERTH_BENCH_DOCKD_LOG keeps dockd's log (e.g. run with
		// GODEBUG=gctrace=1 to see its heap at every collection).
		if p := os.Getenv("BERTH_BENCH_DOCKD_LOG"); p != "" {
			if raw, err := os.ReadFile(r.logPath); err == nil {
				os.WriteFile(p, raw, 0o600)
			}
		}
	}()
	// The buffer reclaims released footage in the background: give it a
	// moment, then measure what the dock keeps on disk.
	res.endDisk = r.settledDisk()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			log, _ := os.ReadFile(r.logPath)
			b.Errorf("dockd on SIGTERM: %v\n%s", err, log)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		b.Error("dockd did not stop within 30s of SIGTERM")
	}
	res.peakAnon, res.peakFile = samp.stop()
	if res.peakAnon == 0 {
		b.Fatal("no /proc/PID/status samples")
	}
	b.StartTimer()
	return res
}

// allBuffered: every slot has copied all its footage (buffered or later).
func (r *benchRig) allBuffered() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var st localapi.Status
	if err := r.api.Get(ctx, "status", &st); err != nil || len(st.Slots) != benchSlots {
		return false
	}
	for _, s := range st.Slots {
		switch s.State {
		case wire.SlotBuffered, wire.SlotUploaded, wire.SlotReleased, wire.SlotReady:
		case wire.SlotFault:
			r.b.Fatalf("slot %d: fault %s: %s", s.Index, s.Fault, s.Detail)
		default:
			return false
		}
	}
	return true
}

func (r *benchRig) allReleased() bool {
	for _, rec := range r.w.Recs.Recorders() {
		if len(rec.Released()) != benchSegments {
			return false
		}
	}
	return true
}

// settledDisk waits until the data directory's size has not changed for
// 6 s (the reclamation pass after the releases), at most 90 s, and returns
// it.
func (r *benchRig) settledDisk() int64 {
	last, same := benchDiskUse(r.dataDir), 0
	for end := time.Now().Add(90 * time.Second); time.Now().Before(end) && same < 3; {
		time.Sleep(2 * time.Second)
		cur := benchDiskUse(r.dataDir)
		if cur == last {
			same++
		} else {
			same = 0
		}
		last = cur
	}
	return last
}

// benchDiskUse is the buffer's own measure of the space under dir.
func benchDiskUse(dir string) int64 {
	n, _ := buffer.DiskUsage(dir)
	return n
}

// benchSampler records the peak RssAnon and RssFile of a process.
type benchSampler struct {
	pid        int
	quit       chan struct{}
	wg         sync.WaitGroup
	anon, file int64
}

func benchSample(pid int) *benchSampler {
	s := &benchSampler{pid: pid, quit: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if a, f, ok := benchReadStatus(pid); ok {
				s.anon, s.file = max(s.anon, a), max(s.file, f)
			}
			select {
			case <-s.quit:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *benchSampler) stop() (anon, file int64) {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.wg.Wait()
	return s.anon, s.file
}

// benchReadStatus reads RssAnon and RssFile (bytes) from /proc/pid/status.
func benchReadStatus(pid int) (anon, file int64, ok bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if !found || (k != "RssAnon" && k != "RssFile") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		if k == "RssAnon" {
			anon = kb << 10
		} else {
			file = kb << 10
		}
	}
	return anon, file, anon > 0
}
