package timeline

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// Event is one entry of the recorder's own event log (power, record start
// and stop, alarms, button marks), as its docks read it.
type Event struct {
	Index  uint64
	Time   time.Time // device clock in; corrected in a Timeline
	Kind   string    // wire.Event*
	Seq    uint64    // related segment, 0 if none
	Detail string
	// Disputed: another read of the entry said otherwise; this is the
	// first read, which the timeline uses (store.RecorderEvent).
	Disputed bool
}

// Event-log tolerances: a power-off this close after a segment's end is
// what ended it; events this far around a finding are shown with it.
const (
	powerOffTolerance = 5 * time.Second
	nearMargin        = 2 * time.Minute
	maxNear           = 20
)

// CauseFromLog marks a Segment whose stop cause the recorder's event log
// gave (the segment's own listing said unknown).
const CauseFromLog = "event-log"

// alarmCause is the stop cause an alarm logged for a segment stands for.
var alarmCause = map[string]string{
	wire.EventLowBattery:  wire.StopLowBattery,
	wire.EventStorageFull: wire.StopStorageFull,
	wire.EventFault:       wire.StopFault,
}

// BuildWithEvents is Build with the recorder's event log: event times are
// corrected as segments' are, and a segment whose stop cause is unknown
// takes the one its log shows (an alarm for that segment, a record-stop
// naming a cause, a power-off at its end) before segments are grouped,
// since the cause decides what joins. The timeline keeps the corrected
// events for Analyze, which attaches those near each finding.
func BuildWithEvents(serial string, segs []Segment, evs []Event, syncs []Sync, p rules.Policy) Timeline {
	sy := slices.Clone(syncs)
	slices.SortFunc(sy, func(a, b Sync) int { return a.At.Compare(b.At) })
	ce := make([]Event, len(evs))
	for i, e := range evs {
		e.Time = toDock(sy, e.Time)
		ce[i] = e
	}
	slices.SortStableFunc(ce, func(a, b Event) int { return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Index, b.Index)) })
	tl := build(serial, explain(Correct(segs, sy), ce), p)
	tl.Events = ce
	return tl
}

// explain fills unknown stop causes from the corrected log (segs
// corrected, in time order).
func explain(segs []Segment, evs []Event) []Segment {
	if len(evs) == 0 {
		return segs
	}
	bySeq := map[uint64][]Event{}
	for _, e := range evs {
		if e.Seq != 0 {
			bySeq[e.Seq] = append(bySeq[e.Seq], e)
		}
	}
	for i := range segs {
		s := &segs[i]
		if s.StopCause != wire.StopUnknown {
			continue
		}
		cause := ""
		for _, e := range bySeq[s.Seq] {
			if c, ok := alarmCause[e.Kind]; ok {
				cause = c
			} else if e.Kind == wire.EventRecordStop && wire.ValidStopCause(e.Detail) && e.Detail != wire.StopUnknown && cause == "" {
				cause = e.Detail
			}
		}
		if cause == "" {
			// A power-off right at the end, before anything else was recorded.
			j, _ := slices.BinarySearchFunc(evs, s.End.Add(-powerOffTolerance), func(e Event, t time.Time) int { return e.Time.Compare(t) })
			for ; j < len(evs) && !evs[j].Time.After(s.End.Add(powerOffTolerance)); j++ {
				if evs[j].Kind == wire.EventPowerOff {
					cause = wire.StopPowerLoss
					break
				}
			}
		}
		if cause != "" {
			s.StopCause, s.CauseFrom = cause, CauseFromLog
		}
	}
	return segs
}

// near returns the timeline's events within nearMargin of [from, to] (at
// most maxNear, those closest to the span first kept), and those naming a
// segment in [seqLo, seqHi] (0, 0: none), in time order.
func (tl Timeline) near(from, to time.Time, seqLo, seqHi uint64) []Event {
	if len(tl.Events) == 0 {
		return nil
	}
	lo, hi := from.Add(-nearMargin), to.Add(nearMargin)
	var out []Event
	for _, e := range tl.Events {
		inSpan := !e.Time.Before(lo) && !e.Time.After(hi)
		named := seqHi > 0 && e.Seq >= seqLo && e.Seq <= seqHi
		if inSpan || named {
			out = append(out, e)
		}
	}
	if len(out) > maxNear {
		mid := from.Add(to.Sub(from) / 2)
		dist := func(e Event) time.Duration {
			d := e.Time.Sub(mid)
			if d < 0 {
				d = -d
			}
			return d
		}
		slices.SortStableFunc(out, func(a, b Event) int { return cmp.Compare(dist(a), dist(b)) })
		out = out[:maxNear]
		slices.SortStableFunc(out, func(a, b Event) int { return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Index, b.Index)) })
	}
	return out
}

// attachEvents gives each finding the recorder's events around it.
func attachEvents(tl Timeline, fs []Finding) {
	if len(tl.Events) == 0 {
		return
	}
	for i := range fs {
		f := &fs[i]
		switch f.Kind {
		case KindInterruption:
			f.Events = tl.near(f.StoppedAt, f.ResumedAt, 0, 0)
		case KindAbnormalNoResume:
			f.Events = tl.near(f.StoppedAt, f.StoppedAt, f.Seq, f.Seq)
		case KindSequenceHole:
			f.Events = tl.near(f.At, f.At, f.MissingFrom, f.MissingTo)
		default:
			continue
		}
		if f.StopCauseFrom == CauseFromLog {
			f.Detail += "; stop cause from the recorder's event log"
		}
		if f.Kind == KindSequenceHole {
			var seen []string
			for _, e := range f.Events {
				if e.Seq >= f.MissingFrom && e.Seq <= f.MissingTo {
					seen = append(seen, fmt.Sprintf("%s seq %d at %s", e.Kind, e.Seq, e.Time.Format(time.RFC3339)))
				}
			}
			if len(seen) > 0 {
				f.Detail += "; the recorder's log names the missing footage: " + joinMax(seen, 5)
			}
		}
	}
}

func joinMax(ss []string, n int) string {
	out := ""
	for i, s := range ss {
		if i == n {
			return out + fmt.Sprintf(", and %d more", len(ss)-n)
		}
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
