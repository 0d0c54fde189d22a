//go:build unix

package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/uploader"
)

// BenchmarkUpload measures end-to-end throughput of one segment through the
// real client over loopback HTTP into each evidence backend, and the
// receipt recorded in SQLite. fs: chunk hashing on both sides, fsync of
// every chunk and its log record, the full re-read and re-hash at commit,
// link. s3 (versitygw over loopback): each chunk a part object whose
// signed SHA-256 the server checks, at commit the parts read back through
// SHA-256 into a multipart upload with object lock, then the new version
// read back and verified, and the parts deleted.
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
			if tc.backend == "s3" {
				e = newS3Env(b, sqliteBackend(b), int64(tc.chunk))
			} else {
				e = newEnv(b, sqliteBackend(b), int64(tc.chunk))
			}
			c := e.client(b, uploader.ClientOpts{ChunkSize: tc.chunk})
			data, _ := payload(tc.size, 1)
			ctx := context.Background()
			b.SetBytes(int64(tc.size))
			var cpu time.Duration
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				binary.BigEndian.PutUint64(data, uint64(i)) // new footage: the dock hashed it while buffering
				s := sha256.Sum256(data)
				sum := hex.EncodeToString(s[:])
				c0 := cpuTime()
				b.StartTimer()
				if _, err := c.Upload(ctx, "R1", uint64(i), int64(len(data)), sum, bytes.NewReader(data), nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu += cpuTime() - c0
				b.StartTimer()
			}
			// CPU of client and server together, independent of how busy
			// the machine is: the figure to compare across runs.
			b.ReportMetric(float64(tc.size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
