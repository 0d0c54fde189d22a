//go:build unix

package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	rtmetrics "runtime/metrics"
	"syscall"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/evidence/s3test"
)

// BenchmarkUpload measures end-to-end throughput of one segment through the
// real client over loopback HTTP into each evidence backend, and the
// receipt recorded in SQLite. fs: chunk hashing on both sides, fsync of
// every chunk and its log record, the full re-read and re-hash at commit,
// link. s3 (versitygw over loopback): each chunk of 5 MiB or more (and
// the last) a part of the object's multipart upload, smaller ones held as
// pending chunk objects until they make a part, each request's SHA-256
// signed and checked by the server, the object's SHA-256 carried from part
// to part in a state object; at commit the hash checked, the upload
// completed and its ETag checked against the parts'. MB/cpu-s+srv adds
// versitygw's CPU to the process's. MB/s depends on how busy the machine
// is; MB/cpu-s (the process's CPU: the dock's client and the collector)
// and MB/cpu-s+srv much less, so compare those across runs, and report
// `uptime` beside any figure. peak-heap-MiB is the most heap the process
// (client and collector) held in objects, live or not yet collected,
// while uploading: the client holds three 1 MiB pieces whatever the
// chunk size (agent/uploader).
// Every iteration uploads different footage (no dedup shortcut).
func BenchmarkUpload(b *testing.B) {
	for _, tc := range []struct {
		backend string
		size    int
		chunk   int
	}{{"fs", 64 << 20, 4 << 20}, {"fs", 64 << 20, 8 << 20}, {"fs", 64 << 20, 16 << 20},
		{"s3", 64 << 20, 4 << 20}, {"s3", 64 << 20, 16 << 20}} {
		b.Run(fmt.Sprintf("%s/%dMiB/chunk%dMiB", tc.backend, tc.size>>20, tc.chunk>>20), func(b *testing.B) {
			var e *env
			var srv *s3test.Server
			if tc.backend == "s3" {
				srv = s3test.Start(b)
				o := srv.Opts(evidence.S3Opts{})
				e = newEnvOn(b, sqliteBackend(b), int64(tc.chunk), &o)
			} else {
				e = newEnv(b, sqliteBackend(b), int64(tc.chunk))
			}
			c := e.client(b, uploader.ClientOpts{ChunkSize: tc.chunk})
			data, _ := payload(tc.size, 1)
			ctx := context.Background()
			b.SetBytes(int64(tc.size))
			var cpu, srvCPU time.Duration
			peak := heapSampler()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				binary.BigEndian.PutUint64(data, uint64(i)) // new footage: the dock hashed it while buffering
				s := sha256.Sum256(data)
				sum := hex.EncodeToString(s[:])
				c0, s0 := cpuTime(), srv.CPUTime()
				b.StartTimer()
				if _, err := c.Upload(ctx, "R1", uint64(i), int64(len(data)), sum, bytes.NewReader(data), nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu += cpuTime() - c0
				srvCPU += srv.CPUTime() - s0
				b.StartTimer()
			}
			// CPU of client and server together, independent of how busy
			// the machine is: the figure to compare across runs.
			b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(tc.size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
			if srv != nil { // and with the S3 server's CPU (versitygw) added
				b.ReportMetric(float64(tc.size)*float64(b.N)/1e6/(cpu+srvCPU).Seconds(), "MB/cpu-s+srv")
			}
		})
	}
}

// heapSampler samples the heap's bytes in objects every millisecond until
// the function it returns is called, which returns the most seen.
func heapSampler() func() uint64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			rtmetrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
