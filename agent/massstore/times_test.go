package massstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"
)

// testdata/clip.mp4 is 2 s of ffmpeg's test pattern with a tone (H.264,
// AAC), made with creation_time 2026-12-04T02:15:00Z:
//
//	ffmpeg -f lavfi -i testsrc=duration=2:size=160x120:rate=15 -f lavfi -i sine=frequency=440:duration=2 \
//	  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest \
//	  -metadata creation_time=2026-12-04T02:15:00Z clip.mp4
func TestContainerTimes(t *testing.T) {
	b, err := os.ReadFile("testdata/clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ContainerTimes(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 4, 2, 15, 0, 0, time.UTC); !c.Created.Equal(want) {
		t.Errorf("created %s, want %s", c.Created, want)
	}
	if c.Duration < 1900*time.Millisecond || c.Duration > 2100*time.Millisecond {
		t.Errorf("duration %s, want about 2 s", c.Duration)
	}
	for name, bad := range map[string][]byte{
		"empty":           nil,
		"no moov":         box("ftyp", []byte("isom\x00\x00\x02\x00")),
		"box past end":    append(binary.BigEndian.AppendUint32(nil, 1<<20), "moov"...),
		"moov no mvhd":    box("moov", box("trak", nil)),
		"mvhd too large":  box("moov", box("mvhd", make([]byte, 4096))),
		"truncated mvhd":  box("moov", box("mvhd", []byte{0, 0, 0})),
		"header too long": append(binary.BigEndian.AppendUint32(nil, 4), "moov"...),
	} {
		if _, err := ContainerTimes(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrBadContainer) {
			t.Errorf("%s: %v, want ErrBadContainer", name, err)
		}
	}
}

func box(typ string, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
	return append(append(b, typ...), payload...)
}

func TestNameTime(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	for _, tc := range []struct {
		path string
		want time.Time
	}{
		{"Record/2026-12-04/083015_0001.mp4", time.Date(2026, 12, 4, 8, 30, 15, 0, sh)},
		{"Record/20261204/083015.MP4", time.Date(2026, 12, 4, 8, 30, 15, 0, sh)},
		{"DCIM/100MEDIA/DSJ0042_20261204101500_0004.MP4", time.Date(2026, 12, 4, 10, 15, 0, 0, sh)},
		{"DCIM/2026_1204_235959_007.MOV", time.Date(2026, 12, 4, 23, 59, 59, 0, sh)},
		{"DCIM/100MEDIA/FILE0005.MP4", time.Time{}},
		{"Record/2026-02-31/083015_0001.mp4", time.Time{}}, // no such day
		{"DCIM/X_20261204256000_0001.MP4", time.Time{}},    // no such hour
		{"Record/notadate/083015_0001.mp4", time.Time{}},   // a time without a dated folder
		{"DCIM/120261204083015_0001.MP4", time.Time{}},     // digits run on: not a time
	} {
		got, ok := NameTime(tc.path, sh)
		if ok != !tc.want.IsZero() || ok && !got.Equal(tc.want) {
			t.Errorf("%s: %s %v, want %s", tc.path, got, ok, tc.want)
		}
	}
}

// FuzzContainerTimes: any bytes give a Container or an error wrapping
// ErrBadContainer, never a panic; a found creation time is after 1904.
func FuzzContainerTimes(f *testing.F) {
	if b, err := os.ReadFile("testdata/clip.mp4"); err == nil {
		f.Add(b[:min(len(b), 4096)])
		f.Add(b)
	}
	f.Add(box("moov", box("mvhd", make([]byte, 100))))
	f.Add(box("moov", box("mvhd", append([]byte{1, 0, 0, 0}, make([]byte, 108)...))))
	f.Add([]byte{0, 0, 0, 1, 'm', 'o', 'o', 'v', 0, 0, 0, 0, 0, 0, 0, 16})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ContainerTimes(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrBadContainer) {
				t.Fatalf("error %v does not wrap ErrBadContainer", err)
			}
			return
		}
		if !c.Created.IsZero() && c.Created.Before(mp4Epoch) || c.Duration < 0 {
			t.Fatalf("container %+v", c)
		}
	})
}

// FuzzNameTime: any path gives a valid time or none, never a panic.
func FuzzNameTime(f *testing.F) {
	for _, s := range []string{"Record/2026-12-04/083015_0001.mp4", "DCIM/100MEDIA/DSJ_20261204101500_0004.MP4", "FILE0001.MP4", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, ok := NameTime(p, time.UTC); ok && (got.Year() < 2000 || got.Year() > 2099) {
			t.Fatalf("%q: %s", p, got)
		}
	})
}
