package massstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
)

// ErrBadContainer wraps an MP4 file whose header cannot be read.
var ErrBadContainer = errors.New("massstore: bad mp4 container")

// Container is what an MP4 file's movie header says.
type Container struct {
	Created  time.Time     // mvhd creation time (zero if unset)
	Duration time.Duration // mvhd duration
}

// maxBoxes bounds the boxes walked at one level; maxMvhd the movie
// header's size (version 1 is 120 bytes).
const (
	maxBoxes = 4096
	maxMvhd  = 1024
)

// mp4Epoch is mvhd's epoch, 1904-01-01 UTC.
var mp4Epoch = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)

// ContainerTimes reads the movie header (moov/mvhd) of the MP4 or MOV file
// in r (size bytes): it walks the box headers with mp4ff and decodes only
// the mvhd box, never the sample tables or the media. A file without one,
// or whose boxes do not fit, gives an error wrapping ErrBadContainer.
func ContainerTimes(r io.ReaderAt, size int64) (c Container, err error) {
	defer func() {
		// mp4ff decodes what the file says; a hostile file must give an
		// error, never bring the dock down.
		if p := recover(); p != nil {
			c, err = Container{}, fmt.Errorf("%w: %v", ErrBadContainer, p)
		}
	}()
	_, moovAt, moovEnd, err := findBox(r, 0, size, "moov")
	if err != nil {
		return Container{}, err
	}
	hdr, _, end, err := findBox(r, moovAt, moovEnd, "mvhd")
	if err != nil {
		return Container{}, err
	}
	n := end - hdr
	if n > maxMvhd {
		return Container{}, fmt.Errorf("%w: mvhd of %d bytes", ErrBadContainer, n)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, hdr); err != nil {
		return Container{}, fmt.Errorf("%w: mvhd: %w", ErrBadContainer, err)
	}
	box, err := mp4.DecodeBox(uint64(hdr), bytes.NewReader(b))
	if err != nil {
		return Container{}, fmt.Errorf("%w: mvhd: %w", ErrBadContainer, err)
	}
	mvhd, ok := box.(*mp4.MvhdBox)
	if !ok {
		return Container{}, fmt.Errorf("%w: mvhd decodes as %T", ErrBadContainer, box)
	}
	if mvhd.CreationTime != 0 && mvhd.CreationTime < 1<<40 {
		c.Created = mp4Epoch.Add(time.Duration(mvhd.CreationTime) * time.Second)
	}
	if mvhd.Timescale != 0 {
		secs := float64(mvhd.Duration) / float64(mvhd.Timescale)
		if secs >= 0 && secs < 7*24*3600 { // a recording is hours long; more is a broken header
			c.Duration = time.Duration(secs * float64(time.Second))
		}
	}
	return c, nil
}

// findBox finds the first box named typ between from and to and returns
// where it starts, where its payload starts and where it ends.
func findBox(r io.ReaderAt, from, to int64, typ string) (start, payload, end int64, err error) {
	at := from
	for i := 0; i < maxBoxes && at+8 <= to; i++ {
		h, err := mp4.DecodeHeader(io.NewSectionReader(r, at, to-at))
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%w: box at %d: %w", ErrBadContainer, at, err)
		}
		if h.Size > uint64(to-at) {
			return 0, 0, 0, fmt.Errorf("%w: box %q at %d: %d bytes past the end", ErrBadContainer, h.Name, at, h.Size)
		}
		if h.Name == typ {
			return at, at + int64(h.Hdrlen), at + int64(h.Size), nil
		}
		at += int64(h.Size)
	}
	return 0, 0, 0, fmt.Errorf("%w: no %s box", ErrBadContainer, typ)
}

// Names the recorders give their files: a full date and time
// (GA/T 947 style, DEVICE_20261204083015_0001.MP4, 2026_1204_083015.MP4)
// or a time under a dated folder (Record/2026-12-04/083015_0001.mp4).
var (
	fullTime = regexp.MustCompile(`(?:^|[^0-9])(20[0-9]{2})[-_]?([01][0-9])[-_]?([0-3][0-9])[-_T ]?([0-2][0-9])[-_:]?([0-5][0-9])[-_:]?([0-5][0-9])(?:[^0-9]|$)`)
	dateDir  = regexp.MustCompile(`^(20[0-9]{2})[-_]?([01][0-9])[-_]?([0-3][0-9])$`)
	dayTime  = regexp.MustCompile(`^([0-2][0-9])[-_:]?([0-5][0-9])[-_:]?([0-5][0-9])(?:[^0-9]|$)`)
)

// NameTime is the recording's start as its path says, in the recorder's
// time zone loc; false when the path names no valid time.
func NameTime(rel string, loc *time.Location) (time.Time, bool) {
	base := path.Base(rel)
	if m := fullTime.FindStringSubmatch(base); m != nil {
		return civil(loc, m[1], m[2], m[3], m[4], m[5], m[6])
	}
	dir := path.Base(path.Dir(rel))
	if d, t := dateDir.FindStringSubmatch(dir), dayTime.FindStringSubmatch(strings.TrimSpace(base)); d != nil && t != nil {
		return civil(loc, d[1], d[2], d[3], t[1], t[2], t[3])
	}
	return time.Time{}, false
}

// civil builds a time from its decimal fields, refusing dates that do not
// exist (time.Date would normalise 2026-02-31 to March).
func civil(loc *time.Location, f ...string) (time.Time, bool) {
	var v [6]int
	for i, s := range f {
		for _, c := range s {
			v[i] = v[i]*10 + int(c-'0')
		}
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, loc)
	if t.Year() != v[0] || int(t.Month()) != v[1] || t.Day() != v[2] || t.Hour() != v[3] || t.Minute() != v[4] || t.Second() != v[5] {
		return time.Time{}, false
	}
	return t, true
}
