package uploader

import (
	"crypto/ed25519"
	"testing"
)

// The default chunk fits the collector's chunk timeout under a bandwidth
// cap: what the cap sends in a minute, 64 KiB at least, the full default
// without one; a chunk size given is kept.
func TestChunkSizeUnderRateCap(t *testing.T) {
	key := make(ed25519.PublicKey, ed25519.PublicKeySize)
	for _, tc := range []struct {
		rate  int64
		chunk int
		want  int
	}{
		{0, 0, DefaultChunkSize},
		{10 << 20, 0, DefaultChunkSize},
		{100_000, 0, 6_000_000},
		{100, 0, 64 << 10},
		{100_000, 1 << 20, 1 << 20},
	} {
		c, err := NewClient(ClientOpts{BaseURL: "http://127.0.0.1:1", Dock: "dock-1", Token: "t", CollectorKey: key,
			RateBytes: tc.rate, ChunkSize: tc.chunk})
		if err != nil {
			t.Fatal(err)
		}
		if c.chunk != tc.want {
			t.Errorf("rate %d chunk %d: chunk %d, want %d", tc.rate, tc.chunk, c.chunk, tc.want)
		}
	}
}
