package board

import (
	"os"
	"testing"
)

// BenchmarkParse measures reading and validating a 4-slot board file.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("../../deploy/boards/rpi4-4slot.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("rpi4-4slot.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
