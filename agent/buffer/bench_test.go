package buffer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// anonSampler records the peak anonymous resident memory (RssAnon) of the
// test process while a benchmark runs.
type anonSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak int64
	live uint64 // peak live heap after a GC
}

func rssAnon() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "RssAnon:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func startSampler() *anonSampler {
	s := &anonSampler{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			v := rssAnon()
			m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			metrics.Read(m)
			s.mu.Lock()
			s.peak = max(s.peak, v)
			if m[0].Value.Kind() == metrics.KindUint64 {
				s.live = max(s.live, m[0].Value.Uint64())
			}
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *anonSampler) report(b *testing.B) {
	close(s.stop)
	s.wg.Wait()
	b.ReportMetric(float64(s.peak)/(1<<20), "peak-anon-MiB")
	b.ReportMetric(float64(s.live)/(1<<20), "peak-live-heap-MiB")
}

// benchFixture has the production defaults (encrypted) and a 1 GiB
// reserve, in BUFFER_BENCH_DIR if set (e.g. /dev/shm for the CPU path
// alone), else in the test's temporary directory.
func benchFixture(b *testing.B) *fixture {
	f := newFixture(b)
	if d := os.Getenv("BUFFER_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "buffer-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		f.dir = dir
	}
	f.opts.MemTableSize, f.opts.ValueLogFileSize = 0, 0 // defaults
	f.opts.Reserve = 1 << 30
	if v, err := strconv.Atoi(os.Getenv("BUFFER_BENCH_CHUNK")); err == nil {
		f.opts.ChunkSize = v
	}
	return f
}

// pattern is segSize bytes of footage made of one 4 MiB block repeated,
// so the benchmark's own memory does not hide the buffer's.
type pattern struct {
	block []byte
	size  int
	sha   [32]byte
}

func newPattern(size int) pattern {
	p := pattern{block: footage(1, 4<<20), size: size}
	h := sha256.New()
	for off := 0; off < size; off += len(p.block) {
		h.Write(p.block[:min(len(p.block), size-off)])
	}
	copy(p.sha[:], h.Sum(nil))
	return p
}

func (p pattern) meta(serial string, seq uint64) Meta {
	m := meta(serial, seq, nil, t0, false)
	m.Seg.Size, m.Seg.SHA256 = uint64(p.size), p.sha
	m.Manifest.Size, m.Manifest.SHA256 = int64(p.size), hex.EncodeToString(p.sha[:])
	return m
}

func (p pattern) receipt(f *fixture, serial string, seq uint64) wire.Receipt {
	r := wire.Receipt{ObjectID: fmt.Sprintf("obj-%s-%d", serial, seq), Device: serial, Seq: seq,
		SHA256: hex.EncodeToString(p.sha[:]), Size: int64(p.size), StoredAt: t0}
	r.Sign("k1", f.priv)
	return r
}

// write sends the pattern in 64 KiB windows, as the link delivers it.
func (p pattern) write(w io.Writer) error {
	for off := 0; off < p.size; off += 64 << 10 {
		i := off % len(p.block)
		n := min(64<<10, p.size-off, len(p.block)-i)
		if _, err := w.Write(p.block[i : i+n]); err != nil {
			return err
		}
	}
	return nil
}

func offload(b *testing.B, streams int, segSize int, chunkSize int) {
	f := benchFixture(b)
	f.opts.ChunkSize = chunkSize
	buf := f.open(b)
	defer buf.Close()
	data := newPattern(segSize)
	samp := startSampler()
	b.SetBytes(int64(segSize * streams))
	b.ResetTimer()
	for i := range b.N {
		var wg sync.WaitGroup
		errs := make(chan error, streams)
		for s := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w, err := buf.Begin(data.meta(fmt.Sprintf("S%d", s), uint64(i+1)))
				if err != nil {
					errs <- err
					return
				}
				if err := data.write(w); err != nil {
					errs <- err
					return
				}
				errs <- w.Commit()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		// Keep the disk bounded across iterations: receipt, release, reclaim.
		b.StopTimer()
		for s := range streams {
			serial := fmt.Sprintf("S%d", s)
			if err := buf.MarkUploaded(serial, uint64(i+1), data.receipt(f, serial, uint64(i+1))); err != nil {
				b.Fatal(err)
			}
			if err := buf.MarkReleased(serial, uint64(i+1)); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := buf.Reclaim(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	samp.report(b)
}

// BenchmarkOffload is one uncapped stream into the buffer: hashing,
// encryption and badger's synced writes (every chunk).
func BenchmarkOffload(b *testing.B) { offload(b, 1, 64<<20, 0) }

// BenchmarkOffload4 is four slots copying at once (badger groups their
// chunks into fewer synced writes).
func BenchmarkOffload4(b *testing.B) { offload(b, 4, 32<<20, 0) }

// BenchmarkChunkSize compares chunk sizes: every chunk is one synced
// write, so larger chunks sync less often and hold more memory.
func BenchmarkChunkSize(b *testing.B) {
	for _, cs := range []int{256 << 10, 1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("chunk=%dKiB", cs>>10), func(b *testing.B) { offload(b, 1, 64<<20, cs) })
	}
}

// BenchmarkChurn runs 10x a 256 MiB backlog (2.5 GiB) through the buffer
// with the production options and reports the peak disk use against the
// backlog.
func BenchmarkChurn(b *testing.B) {
	for range b.N {
		f := benchFixture(b)
		buf := f.open(b)
		samp := startSampler()
		const backlog = 256 << 20
		start := time.Now()
		res := churn(b, buf, f, backlog, 16<<20, 10*backlog, 4)
		el := time.Since(start)
		samp.report(b)
		buf.Close()
		b.ReportMetric(float64(res.maxDisk)/float64(backlog), "peak-disk/backlog")
		b.ReportMetric(float64(res.finalDisk)/float64(backlog), "final-disk/backlog")
		b.ReportMetric(float64(res.maxDisk)/(1<<20), "peak-disk-MiB")
		b.ReportMetric(float64(res.freed), "vlog-files-freed")
		b.ReportMetric(float64(res.written)/el.Seconds()/1e6, "churn-MB/s")
	}
}

// BenchmarkDiskBaseline writes 64 MiB to a file and fdatasyncs it: what the
// disk under the benchmarks does without any buffer in the way.
func BenchmarkDiskBaseline(b *testing.B) {
	f := benchFixture(b)
	os.MkdirAll(f.dir, 0o700)
	block := footage(1, 1<<20)
	b.SetBytes(64 << 20)
	for range b.N {
		fh, err := os.Create(f.dir + "/baseline")
		if err != nil {
			b.Fatal(err)
		}
		for range 64 {
			fh.Write(block)
		}
		if err := fh.Sync(); err != nil {
			b.Fatal(err)
		}
		fh.Close()
		os.Remove(f.dir + "/baseline")
	}
}
