package timeline

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// Kinds of finding.
const (
	KindInterruption     = "interruption"       // stopped and resumed: the opening window must hold a spoken reason
	KindAbnormalNoResume = "abnormal-no-resume" // stopped abnormally, never resumed: written explanation due
	KindSequenceHole     = "sequence-hole"      // sequence numbers missing: lost or deleted footage
	KindSequenceReused   = "sequence-reused"    // one sequence number, two different hashes
	KindOverlap          = "overlap"            // a segment starts before the previous one ended
	KindHashMismatch     = "hash-mismatch"      // the dock's hash differs from the recorder's
	KindLateUpload       = "late-upload"        // reached storage after the upload deadline
	KindUploadOverdue    = "upload-overdue"     // not in storage and the deadline has passed
	KindOffloadDueSoon   = "offload-due-soon"   // recorder out of the dock, deadline approaching
)

// Finding is one thing the rules care about on a recorder's timeline.
type Finding struct {
	Kind    string
	Serial  string
	Seq     uint64 // the segment concerned (for an interruption: the resumed one)
	Officer string
	// At is when it happened, in corrected time (for an interruption: the
	// restart; for a hole: the end of the segment before it).
	At time.Time
	// For interruptions and abnormal stops.
	StoppedAt time.Time
	ResumedAt time.Time
	StopCause string
	Gap       time.Duration
	// For holes: the missing range, inclusive.
	MissingFrom, MissingTo uint64
	Detail                 string
	// StopCauseFrom is CauseFromLog when the recorder's event log, not the
	// segment's listing, gave StopCause.
	StopCauseFrom string
	// Events are the recorder's own log entries around the finding
	// (BuildWithEvents): power, record start and stop, alarms, marks.
	Events []Event
}

// Key identifies a finding for deduplication: analysing the same timeline
// again yields the same keys.
func (f Finding) Key() string {
	if f.Kind == KindSequenceHole {
		return fmt.Sprintf("%s/%s/%d-%d", f.Kind, f.Serial, f.MissingFrom, f.MissingTo)
	}
	return fmt.Sprintf("%s/%s/%d", f.Kind, f.Serial, f.Seq)
}

// Analyze returns the findings of a built timeline at time now (which
// decides whether an abnormal stop may still be resumed and whether footage
// not yet in storage is overdue), in time order.
func Analyze(tl Timeline, p rules.Policy, now time.Time) []Finding {
	var out []Finding
	segs := tl.Segments
	add := func(f Finding) { f.Serial = tl.Serial; out = append(out, f) }

	// Interruptions and abnormal stops, between consecutive recordings.
	for i, r := range tl.Recordings {
		last := segs[r.Last]
		if i+1 < len(tl.Recordings) {
			next := tl.Recordings[i+1]
			first := segs[next.First]
			gap := next.Start.Sub(r.End)
			// Recordings are split only where the gap exceeds the split
			// tolerance, so an automatic split here left footage missing
			// too; like a user stop it counts within the restart window.
			if p.Resumes(r.StopCause, gap) {
				detail := fmt.Sprintf("stopped (%s) after seq %d, resumed %s later with seq %d", r.StopCause, last.Seq, gap.Round(time.Second), first.Seq)
				if first.FileTimes {
					detail += " (times from the recorder's files)"
				}
				add(Finding{Kind: KindInterruption, Seq: first.Seq, Officer: first.Officer, At: next.Start,
					StoppedAt: r.End, ResumedAt: next.Start, StopCause: r.StopCause, StopCauseFrom: last.CauseFrom, Gap: gap,
					Detail: detail})
				continue
			}
		}
		// A legacy recorder's files do not say why a recording stopped:
		// "unknown" there is no evidence of an abnormal stop, and every
		// shift's last recording would otherwise be alerted.
		if rules.Abnormal(r.StopCause) && !(last.FileTimes && r.StopCause == wire.StopUnknown) {
			resumed := i+1 < len(tl.Recordings) && tl.Recordings[i+1].Start.Sub(r.End) <= p.AbnormalResumeWindow
			if !resumed && now.Sub(r.End) > p.AbnormalResumeWindow {
				add(Finding{Kind: KindAbnormalNoResume, Seq: last.Seq, Officer: last.Officer, At: r.End, StoppedAt: r.End,
					StopCause: r.StopCause, StopCauseFrom: last.CauseFrom, Detail: fmt.Sprintf("stopped (%s) with seq %d and did not resume within %s", r.StopCause, last.Seq, p.AbnormalResumeWindow)})
			}
		}
	}

	// Overlaps, hashes and upload deadlines, per segment in time order.
	var prevEnd time.Time
	var prevSeq uint64
	for i, s := range segs {
		if i > 0 && prevEnd.Sub(s.Start) > p.OverlapTolerance {
			add(Finding{Kind: KindOverlap, Seq: s.Seq, Officer: s.Officer, At: s.Start,
				Detail: fmt.Sprintf("seq %d starts %s before seq %d ends", s.Seq, prevEnd.Sub(s.Start).Round(time.Millisecond), prevSeq)})
		}
		if s.End.After(prevEnd) || i == 0 {
			prevEnd, prevSeq = s.End, s.Seq
		}
		if s.Computed != "" && s.Computed != s.SHA256 {
			add(Finding{Kind: KindHashMismatch, Seq: s.Seq, Officer: s.Officer, At: s.End,
				Detail: fmt.Sprintf("recorder says %s, dock copied %s", s.SHA256, s.Computed)})
		}
		switch {
		case !s.ReceivedAt.IsZero() && s.ReceivedAt.Sub(s.End) > p.UploadDeadline:
			add(Finding{Kind: KindLateUpload, Seq: s.Seq, Officer: s.Officer, At: s.ReceivedAt,
				Detail: fmt.Sprintf("stored %s after recording ended (deadline %s)", s.ReceivedAt.Sub(s.End).Round(time.Minute), p.UploadDeadline)})
		case s.ReceivedAt.IsZero() && now.Sub(s.End) > p.UploadDeadline:
			add(Finding{Kind: KindUploadOverdue, Seq: s.Seq, Officer: s.Officer, At: s.End.Add(p.UploadDeadline),
				Detail: fmt.Sprintf("not in storage %s after recording ended", now.Sub(s.End).Round(time.Minute))})
		}
	}

	out = append(out, sequenceFindings(tl.Serial, segs)...)
	attachEvents(tl, out)
	slices.SortStableFunc(out, func(a, b Finding) int { return a.At.Compare(b.At) })
	return out
}

// sequenceFindings finds holes and reused numbers in the per-device
// sequence (DockLink: monotonic, never reused; a hole is lost footage).
func sequenceFindings(serial string, segs []Segment) []Finding {
	bySeq := slices.Clone(segs)
	slices.SortFunc(bySeq, func(a, b Segment) int { return cmp.Compare(a.Seq, b.Seq) })
	var out []Finding
	for i := 1; i < len(bySeq); i++ {
		a, b := bySeq[i-1], bySeq[i]
		switch {
		case b.Seq == a.Seq && b.SHA256 != a.SHA256:
			out = append(out, Finding{Kind: KindSequenceReused, Serial: serial, Seq: b.Seq, Officer: b.Officer, At: b.Start,
				Detail: fmt.Sprintf("seq %d reported with hashes %s and %s", b.Seq, a.SHA256, b.SHA256)})
		case b.Seq > a.Seq+1:
			out = append(out, Finding{Kind: KindSequenceHole, Serial: serial, Seq: a.Seq + 1, Officer: a.Officer, At: a.End,
				MissingFrom: a.Seq + 1, MissingTo: b.Seq - 1,
				Detail: fmt.Sprintf("seq %d..%d missing between seq %d and %d", a.Seq+1, b.Seq-1, a.Seq, b.Seq)})
		}
	}
	return out
}

// OffloadDue returns a finding when a recorder last docked at lastDocked
// (and possibly recording since) will reach the upload deadline within warn
// of now; nothing otherwise.
func OffloadDue(serial, officer string, lastDocked, now time.Time, p rules.Policy, warn time.Duration) (Finding, bool) {
	due := lastDocked.Add(p.UploadDeadline)
	if now.Before(due.Add(-warn)) {
		return Finding{}, false
	}
	left := due.Sub(now)
	f := Finding{Kind: KindOffloadDueSoon, Serial: serial, Officer: officer, At: due, StoppedAt: lastDocked,
		Detail: fmt.Sprintf("out of the dock since %s; footage due in storage within %s", lastDocked.Format(time.RFC3339), left.Round(time.Minute))}
	if left < 0 {
		f.Detail = fmt.Sprintf("out of the dock since %s; upload deadline passed %s ago", lastDocked.Format(time.RFC3339), (-left).Round(time.Minute))
	}
	return f, true
}
