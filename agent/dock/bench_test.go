package dock_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/board"
	"github.com/berthdock/berth/firmware-protocol/docklink"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// The offload benchmarks run the whole dock in-process — the simulated
// board, agent/slot's lifecycle, DockLink over TCP to recsim, the encrypted
// badger buffer with its hashing and default syncing — against the real
// collector (embedded broker, SQLite). Each iteration docks fresh recorders
// (one per slot) and is timed from the presence switch closing to every slot
// reaching "buffered": every segment copied, its SHA-256 checked against
// the recorder's and its data synced. Uploads are throttled to
// benchUploadRate so that the collector side (in-process, on the same
// cores) does not take CPU from the copy being measured; releases, which
// wait for receipts, are therefore not part of the figure.
//
// BERTH_BENCH_DIR puts the dock's and the collector's data there instead of
// the test's temporary directory (/dev/shm separates CPU cost from the
// disk's).
//
// Figures:
//
//	MB/s           the framework's: bytes / (presence → all buffered)
//	copy-MB/s      bytes / (first slot starts copying → last slot buffered)
//	pct-of-cap     copy rate per slot as a share of the recsim cap (capped runs)
//	dock-ms        presence → copying: debounce, power, HELLO, authentication,
//	               status, clock, inventory
//	MB/cpu-s       bytes per CPU-second of the whole test process (dock, recsim
//	               sending, collector): what the copy costs, independent of how
//	               busy the machine is with other work
//	runq-s/op      seconds the process's threads waited runnable for a CPU
//	               (summed over threads): the machine taken by other work

const (
	benchCap        = recsim.DefaultRate // 35 MB/s
	benchUploadRate = 1 << 20            // bytes/s: the collector side kept slow
)

// benchLoad is the footage each recorder carries in one iteration.
type benchLoad struct {
	slots    int
	segments int
	segSize  int64
	rate     int64 // recsim Config.Rate (0: the 35 MB/s cap, recsim.Unlimited)
	upload   bool  // uploads at full speed (else throttled to benchUploadRate)
}

func (l benchLoad) perSlot() int64 { return int64(l.segments) * l.segSize }

// benchRig is a collector, a dock on a simulated board and recsim serving
// one recorder per slot per iteration.
type benchRig struct {
	b    *testing.B
	col  *collector.Collector
	srv  *recsim.Server
	sys  *dock.System
	load benchLoad
	dir  string // the dock's data directory
	stop func()
}

func benchStart(b *testing.B, l benchLoad, iters int) *benchRig {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(tbWriter{b}, &slog.HandlerOptions{Level: slog.LevelError}))
	dockID := "bench-" + randHex(4)
	token := randHex(16)
	dir := b.TempDir()
	if d := os.Getenv("BERTH_BENCH_DIR"); d != "" {
		// e.g. /dev/shm: the same path without the disk, to tell CPU from I/O.
		var err error
		if dir, err = os.MkdirTemp(d, "dock-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}

	var cc collector.Config
	cc.DataDir = filepath.Join(dir, "collector")
	cc.HTTP = "127.0.0.1:0"
	cc.Analysis.Every = time.Hour
	cc.Docks = []collector.DockEnrolment{{ID: dockID, Unit: "unit-bench", Token: token}}
	cc.MQTT.ClientID = "collector-" + dockID
	cc.MQTT.Embedded = "127.0.0.1:0"
	// Opened under the labels the profile splits by: the goroutines New and
	// Open start (badger's writer and compactors) carry them too.
	var col *collector.Collector
	var err error
	pprof.Do(ctx, pprof.Labels("side", "collector"), func(ctx context.Context) {
		col, err = collector.New(ctx, cc, collector.Options{Log: log.With("side", "collector")})
	})
	if err != nil {
		b.Fatal(err)
	}

	// Every recorder exists (and is hashed by Generate) before the clock
	// runs; iteration i docks recorders i*slots .. i*slots+slots-1.
	var recs []*recsim.Recorder
	enrolled := map[string]string{}
	for i := range iters * l.slots {
		r, err := recsim.Generate(uint64(1000+i), &recsim.GenOpts{Segments: l.segments, MinSize: l.segSize,
			Start: time.Now().Add(-8 * time.Hour)}, &recsim.Config{Serial: fmt.Sprintf("BENCH-%s-%d", dockID[6:], i), Rate: l.rate})
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, r)
		enrolled[r.Serial()] = r.PublicKeyBase64()
	}
	srv, err := recsim.NewServer(recs, &recsim.ServerOpts{TCP: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	spec, err := board.NewSimSpec("bench", l.slots)
	if err != nil {
		b.Fatal(err)
	}
	bd, err := board.Open(spec, nil)
	if err != nil {
		b.Fatal(err)
	}
	ddir := filepath.Join(dir, "dock")
	dc := dockConfig(b, ddir, dockID, "unit-bench", col, enrolled, 32<<30)
	if !l.upload {
		dc.Collector.Rate = benchUploadRate
	}
	var sys *dock.System
	pprof.Do(ctx, pprof.Labels("side", "dock"), func(context.Context) {
		sys, err = dock.Open(dc, dock.OpenOpts{Version: "bench", Log: log.With("side", "dock"), Board: bd, Token: token})
	})
	if err != nil {
		b.Fatal(err)
	}
	r := &benchRig{b: b, col: col, srv: srv, sys: sys, load: l, dir: ddir}
	r.stop = runWorld(b, ctx, cancel, col, srv, sys, true)
	b.Cleanup(r.stop)
	return r
}

// benchDocking is one iteration's timings.
type benchDocking struct {
	inserted  time.Time
	copyStart []time.Time // per slot: the slot entered "copying"
	buffered  []time.Time // per slot: the slot entered "buffered"
}

// dock points every slot at iteration it's recorders, closes the presence
// switches and waits until every slot is buffered (or, with released, has
// released every segment). The caller times it.
func (r *benchRig) dock(it int, released bool) benchDocking {
	b := r.b
	sim := r.sys.Board.Sim()
	n := r.load.slots
	for s := range n {
		if err := sim.SetLink(s, r.srv.Addr(it*n+s)); err != nil {
			b.Fatal(err)
		}
	}
	d := benchDocking{inserted: time.Now(), copyStart: make([]time.Time, n), buffered: make([]time.Time, n)}
	for s := range n {
		if err := sim.Insert(s); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(5*time.Minute + time.Duration(r.load.perSlot()/5e6)*time.Second)
	for left := n; left > 0; {
		left = 0
		for s, sl := range r.sys.Dock.Slots() {
			st, since := sl.State()
			switch st.State {
			case wire.SlotCopying:
				if d.copyStart[s].IsZero() {
					d.copyStart[s] = since
				}
			case wire.SlotBuffered, wire.SlotUploaded, wire.SlotReleased, wire.SlotReady:
				if d.buffered[s].IsZero() {
					d.buffered[s] = since
				}
				if !released || st.State == wire.SlotReleased || st.State == wire.SlotReady {
					continue
				}
			case wire.SlotFault:
				b.Fatalf("slot %d: fault %s: %s", s, st.Fault, st.Detail)
			}
			left++
		}
		if left > 0 {
			if time.Now().After(deadline) {
				b.Fatalf("not done in time: %+v", r.sys.Dock.Status().Slots)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	for s := range n {
		if d.copyStart[s].IsZero() { // copying too short to be seen: count from presence
			d.copyStart[s] = d.inserted
		}
	}
	return d
}

// undock takes every recorder out and waits for the slots to be empty.
func (r *benchRig) undock() {
	b := r.b
	for s := range r.load.slots {
		if err := r.sys.Board.Sim().Remove(s); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		empty := true
		for _, sl := range r.sys.Dock.Slots() {
			if st, _ := sl.State(); st.State != wire.SlotEmpty {
				empty = false
			}
		}
		if empty {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("slots not empty after removal: %+v", r.sys.Dock.Status().Slots)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// benchCPU is the process's user+system CPU time.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRunqWait is how long the process's threads have waited, runnable,
// for a CPU (the second field of /proc/self/task/*/schedstat): the share of
// the machine other processes took from the benchmark.
func benchRunqWait() time.Duration {
	tasks, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var sum time.Duration
	for _, t := range tasks {
		raw, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		var run, wait int64
		if _, err := fmt.Sscan(string(raw), &run, &wait); err == nil {
			sum += time.Duration(wait)
		}
	}
	return sum
}

func benchOffload(b *testing.B, l benchLoad) {
	r := benchStart(b, l, b.N)
	total := l.perSlot() * int64(l.slots)
	b.SetBytes(total)
	var copyTime, dockTime, cpu, runq time.Duration
	var slotRate float64 // sum over iterations and slots of per-slot MB/s
	b.ResetTimer()
	for it := range b.N {
		c0, w0 := benchCPU(), benchRunqWait()
		b.StartTimer()
		d := r.dock(it, false)
		b.StopTimer()
		cpu += benchCPU() - c0
		runq += benchRunqWait() - w0
		first, last := d.copyStart[0], d.buffered[0]
		for s := range l.slots {
			if d.copyStart[s].Before(first) {
				first = d.copyStart[s]
			}
			if d.buffered[s].After(last) {
				last = d.buffered[s]
			}
			dockTime += d.copyStart[s].Sub(d.inserted)
			slotRate += float64(l.perSlot()) / d.buffered[s].Sub(d.copyStart[s]).Seconds() / 1e6
		}
		copyTime += last.Sub(first)
		r.undock()
	}
	n := float64(b.N)
	b.ReportMetric(float64(total)*n/copyTime.Seconds()/1e6, "copy-MB/s")
	b.ReportMetric(float64(dockTime.Milliseconds())/n/float64(l.slots), "dock-ms")
	b.ReportMetric(float64(total)*n/cpu.Seconds()/1e6, "MB/cpu-s")
	b.ReportMetric(runq.Seconds()/n, "runq-s/op")
	if l.rate >= 0 {
		lim := float64(l.rate)
		if lim == 0 {
			lim = benchCap
		}
		b.ReportMetric(100*slotRate/n/float64(l.slots)/(lim/1e6), "pct-of-cap")
	}
}

// BenchmarkOffloadCapped is one slot, recsim at the 35 MB/s link cap, 128
// MiB in four segments per docking.
func BenchmarkOffloadCapped(b *testing.B) {
	benchOffload(b, benchLoad{slots: 1, segments: 4, segSize: 32 << 20})
}

// BenchmarkOffloadUncapped is one slot with no link cap: what the dock's
// path (DockLink decode, SHA-256, encryption, badger, syncing) sustains.
func BenchmarkOffloadUncapped(b *testing.B) {
	benchOffload(b, benchLoad{slots: 1, segments: 4, segSize: 32 << 20, rate: recsim.Unlimited})
}

// BenchmarkOffloadFourSlots docks four recorders at once, 64 MiB each.
func BenchmarkOffloadFourSlots(b *testing.B) {
	b.Run("capped", func(b *testing.B) {
		benchOffload(b, benchLoad{slots: 4, segments: 4, segSize: 16 << 20})
	})
	b.Run("uncapped", func(b *testing.B) {
		benchOffload(b, benchLoad{slots: 4, segments: 4, segSize: 16 << 20, rate: recsim.Unlimited})
	})
}

// BenchmarkChurnEndToEnd docks ten waves of four recorders (64 MiB each)
// with uploads at full speed, each wave released before the next docks, so
// the buffer's steady backlog is one wave (256 MiB) and ten times it goes
// through the whole path: copy, upload, receipt, release, reclamation by the
// buffer's own loop. A sampler walks the dock's data directory every 100 ms.
//
//	peak-disk/backlog   the data directory at its largest over one wave
//	end-disk/backlog    the same after the last wave (reclaimed: unchanged
//	                    for 3 s, at most 60 s)
//	MB/s                the framework's: presence → every segment released
func BenchmarkChurnEndToEnd(b *testing.B) {
	const waves = 10
	l := benchLoad{slots: 4, segments: 4, segSize: 16 << 20, rate: recsim.Unlimited, upload: true}
	backlog := l.perSlot() * int64(l.slots)
	b.SetBytes(backlog * waves)
	for range b.N {
		b.StopTimer()
		r := benchStart(b, l, waves)
		quit, done := make(chan struct{}), make(chan int64)
		go func() {
			var peak int64
			defer func() { done <- peak }()
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				peak = max(peak, benchDiskUse(r.dir))
				select {
				case <-quit:
					return
				case <-t.C:
				}
			}
		}()
		b.StartTimer()
		for w := range waves {
			r.dock(w, true)
			b.StopTimer()
			r.undock()
			b.StartTimer()
		}
		b.StopTimer()
		close(quit)
		peak := <-done
		last, same := benchDiskUse(r.dir), 0
		for end := time.Now().Add(60 * time.Second); time.Now().Before(end) && same < 3; {
			time.Sleep(time.Second)
			cur := benchDiskUse(r.dir)
			if cur == last {
				same++
			} else {
				same = 0
			}
			last = cur
		}
		b.ReportMetric(float64(peak)/float64(backlog), "peak-disk/backlog")
		b.ReportMetric(float64(last)/float64(backlog), "end-disk/backlog")
		b.ReportMetric(float64(peak)/(1<<20), "peak-disk-MiB")
		r.stop()
		b.StartTimer()
	}
}

// benchDiskUse is the buffer's own measure of the space under dir.
func benchDiskUse(dir string) int64 {
	n, _ := buffer.DiskUsage(dir)
	return n
}

// BenchmarkLinkOnly is the scaffolding's ceiling: recsim sending over TCP
// and a DockLink client receiving into io.Discard, without a slot, a
// buffer or a collector, for the same footage as the offload benchmarks.
// What it reaches on the machine at the time bounds what the offload
// benchmarks can show (on a board the sending side is the recorder's CPU,
// not the dock's).
func BenchmarkLinkOnly(b *testing.B) {
	for _, c := range []struct {
		name string
		l    benchLoad
	}{
		{"1slot-capped", benchLoad{slots: 1, segments: 4, segSize: 32 << 20}},
		{"1slot-uncapped", benchLoad{slots: 1, segments: 4, segSize: 32 << 20, rate: recsim.Unlimited}},
		{"4slots-capped", benchLoad{slots: 4, segments: 4, segSize: 16 << 20}},
		{"4slots-uncapped", benchLoad{slots: 4, segments: 4, segSize: 16 << 20, rate: recsim.Unlimited}},
	} {
		b.Run(c.name, func(b *testing.B) { benchLinkOnly(b, c.l) })
	}
}

func benchLinkOnly(b *testing.B, l benchLoad) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var recs []*recsim.Recorder
	keys := docklink.Keys{}
	for i := range b.N * l.slots {
		r, err := recsim.Generate(uint64(2000+i), &recsim.GenOpts{Segments: l.segments, MinSize: l.segSize},
			&recsim.Config{Serial: fmt.Sprintf("LINK-%d", i), Rate: l.rate})
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, r)
		keys[r.Serial()] = r.PublicKey()
	}
	srv, err := recsim.NewServer(recs, &recsim.ServerOpts{TCP: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		srv.Close()
	}()
	b.SetBytes(l.perSlot() * int64(l.slots))
	var cpu, runq time.Duration
	b.ResetTimer()
	for it := range b.N {
		c0, w0 := benchCPU(), benchRunqWait()
		errs := make(chan error, l.slots)
		for s := range l.slots {
			go func() { errs <- benchReadAll(ctx, srv.Addr(it*l.slots+s), keys) }()
		}
		for range l.slots {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		cpu += benchCPU() - c0
		runq += benchRunqWait() - w0
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(l.perSlot()*int64(l.slots))*n/cpu.Seconds()/1e6, "MB/cpu-s")
	b.ReportMetric(runq.Seconds()/n, "runq-s/op")
}

// benchReadAll authenticates to the recorder at addr and reads every
// segment it lists into io.Discard.
func benchReadAll(ctx context.Context, addr string, keys docklink.Keys) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	c := docklink.NewClient(conn, &docklink.ClientOpts{DockID: "bench-link"})
	defer c.Close()
	if _, err := c.Hello(ctx); err != nil {
		return err
	}
	if _, err := c.Authenticate(ctx, keys); err != nil {
		return err
	}
	segs, err := c.Inventory(ctx)
	if err != nil {
		return err
	}
	for _, g := range segs {
		if _, err := c.ReadSegment(ctx, g, 0, io.Discard); err != nil {
			return err
		}
	}
	return nil
}

// runWorld runs the collector, the recorders and (once ingest is ready)
// the dock under ctx, and returns the stop that cancels ctx, joins them
// and closes everything, once. With labels each part runs under a pprof
// label "side" that follows every goroutine it starts, so a CPU profile
// splits by side (go tool pprof -tags).
func runWorld(tb testing.TB, ctx context.Context, cancel context.CancelFunc, col *collector.Collector,
	srv *recsim.Server, sys *dock.System, labels bool) func() {
	tb.Helper()
	done := make(chan struct{}, 3)
	run := func(f func(context.Context) error, name string) {
		go func() {
			defer func() { done <- struct{}{} }()
			body := func(ctx context.Context) {
				if err := f(ctx); err != nil {
					tb.Errorf("%s: %v", name, err)
				}
			}
			if labels {
				pprof.Do(ctx, pprof.Labels("side", name), body)
			} else {
				body(ctx)
			}
		}()
	}
	run(col.Run, "collector")
	run(srv.Run, "recsim")
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			for range 3 {
				<-done
			}
			sys.Close()
			srv.Close()
			col.Close()
		})
	}
	select {
	case <-col.Ingest().Ready():
	case <-time.After(30 * time.Second):
		done <- struct{}{} // the dock never started
		stop()
		tb.Fatal("ingest not ready")
	}
	run(sys.Dock.Run, "dock")
	return stop
}

// tbWriter sends slog lines to the test log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dockConfig writes a dock's buffer key and enrolled-recorders file under
// ddir and returns its configuration, pointed at the collector col.
func dockConfig(tb testing.TB, ddir, dockID, unit string, col *collector.Collector, enrolled map[string]string, capacity int64) *dock.Config {
	tb.Helper()
	if err := os.MkdirAll(ddir, 0o750); err != nil {
		tb.Fatal(err)
	}
	keyFile := filepath.Join(ddir, "buffer.key")
	if err := buffer.WriteKeyFile(keyFile); err != nil {
		tb.Fatal(err)
	}
	ef := filepath.Join(ddir, "recorders.json")
	eb, err := json.Marshal(enrolled)
	if err == nil {
		err = os.WriteFile(ef, eb, 0o600)
	}
	if err != nil {
		tb.Fatal(err)
	}
	dc := &dock.Config{Dock: dockID, Unit: unit, Board: "(sim)", DataDir: ddir, BufferKeyFile: keyFile,
		BufferCapacity: dock.Size(capacity), EnrolledDevices: ef, StateEvery: 5 * time.Second}
	dc.Collector.URL = col.UploadURL()
	dc.Collector.PublicKey = base64.StdEncoding.EncodeToString(col.PublicKey())
	dc.MQTT.Broker = col.BrokerURL()
	dc.MQTT.AckTimeout = 3 * time.Second
	return dc
}
