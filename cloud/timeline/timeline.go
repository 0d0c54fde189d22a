package timeline

import (
	"cmp"
	"slices"
	"time"

	"github.com/berthdock/berth/cloud/wire/rules"
)

// Segment is one recorder segment as the collector knows it.
type Segment struct {
	Seq       uint64
	Start     time.Time // device clock
	End       time.Time // device clock
	StopCause string
	Officer   string
	SHA256    string // the recorder's hash
	Computed  string // the dock's hash of what it copied; empty if unknown
	// ReceivedAt is when the evidence store's receipt was issued (zero while
	// not yet in storage).
	ReceivedAt time.Time
	// CauseFrom says where StopCause came from when not from the
	// segment's own listing (CauseFromLog).
	CauseFrom string
	// FileTimes: a legacy mass-storage recorder's segment, whose times
	// come from its file names and container (wire.TimeSourceFile) and
	// whose stop cause is "unknown" unless the files show a split.
	FileTimes bool
}

// Sync is one docking's clock reading: at dock time At the device clock was
// ahead of the dock by Offset; if Set, the dock then set the device clock
// (offset zero afterwards).
type Sync struct {
	At     time.Time
	Offset time.Duration
	Set    bool
}

// Recording is a run of segments joined by automatic splits.
type Recording struct {
	First, Last int // indexes into Timeline.Segments
	Start, End  time.Time
	StopCause   string // of the last segment
}

// Timeline is a recorder's segments, corrected and grouped.
type Timeline struct {
	Serial     string
	Segments   []Segment // sorted by corrected start; times corrected
	Recordings []Recording
	// Events is the recorder's event log, corrected and in time order
	// (BuildWithEvents; nil from Build).
	Events []Event
}

// Correct returns segs with Start and End moved from device time to dock
// (true) time by the offset interpolated between the syncs around each time,
// sorted by corrected start then sequence. segs and syncs are not modified.
func Correct(segs []Segment, syncs []Sync) []Segment {
	sy := slices.Clone(syncs)
	slices.SortFunc(sy, func(a, b Sync) int { return a.At.Compare(b.At) })
	out := make([]Segment, len(segs))
	for i, s := range segs {
		s.Start, s.End = toDock(sy, s.Start), toDock(sy, s.End)
		out[i] = s
	}
	slices.SortFunc(out, func(a, b Segment) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	return out
}

// toDock maps device time t to dock time: the true time d with d + offset(d)
// = t. Offsets are tiny next to the span between dockings, so two fixed-point
// steps are exact to well under a millisecond.
func toDock(syncs []Sync, t time.Time) time.Time {
	d := t.Add(-offsetAt(syncs, t))
	return t.Add(-offsetAt(syncs, d))
}

// offsetAt interpolates the device-minus-dock offset at dock time t.
func offsetAt(syncs []Sync, t time.Time) time.Duration {
	if len(syncs) == 0 {
		return 0
	}
	// k: the first sync at or after t (the docking that copied the segment).
	k, _ := slices.BinarySearchFunc(syncs, t, func(s Sync, t time.Time) int { return s.At.Compare(t) })
	if k == len(syncs) {
		// After the last docking: the clock has drifted by an unknown amount
		// since; the best estimate is the offset left by that docking.
		return after(syncs[k-1])
	}
	next := syncs[k]
	if k == 0 {
		// Before the first docking we know of: assume the measured offset.
		return next.Offset
	}
	prev := syncs[k-1]
	o0, o1 := after(prev), next.Offset
	span := next.At.Sub(prev.At)
	if span <= 0 {
		return o1
	}
	frac := float64(t.Sub(prev.At)) / float64(span)
	return o0 + time.Duration(frac*float64(o1-o0))
}

// after is the offset a docking left behind.
func after(s Sync) time.Duration {
	if s.Set {
		return 0
	}
	return s.Offset
}

// Build corrects and groups one recorder's segments into recordings.
func Build(serial string, segs []Segment, syncs []Sync, p rules.Policy) Timeline {
	return build(serial, Correct(segs, syncs), p)
}

// build groups corrected segments (in Correct's order) into recordings.
func build(serial string, segs []Segment, p rules.Policy) Timeline {
	tl := Timeline{Serial: serial, Segments: segs}
	for i, s := range tl.Segments {
		if n := len(tl.Recordings); n > 0 {
			r := &tl.Recordings[n-1]
			if p.Joins(r.StopCause, s.Start.Sub(r.End)) {
				r.Last, r.End, r.StopCause = i, maxTime(r.End, s.End), s.StopCause
				continue
			}
		}
		tl.Recordings = append(tl.Recordings, Recording{First: i, Last: i, Start: s.Start, End: s.End, StopCause: s.StopCause})
	}
	return tl
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
