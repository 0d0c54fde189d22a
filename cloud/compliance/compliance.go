// Package compliance computes the recording rules' statistics per officer,
// unit and ISO week (issue 11, item 7): recordings made, interruptions and
// how many were explained aloud (rule 2), footage stored late (rule 1),
// sequence holes (rule 3), and how long supervisors took to acknowledge
// the alerts. It reads the collector's store (segments and alerts: the
// analysis has already judged them) and is what `collector report` prints
// and an API serves.
package compliance

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/timeline"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// Store is the part of the collector's store a report reads.
type Store interface {
	Devices(ctx context.Context) ([]store.Device, error)
	Segments(ctx context.Context, serial string, from, to time.Time) ([]store.Segment, error)
	Alerts(ctx context.Context, f store.AlertFilter) ([]store.Alert, error)
}

// Row is one officer's week (Officer "" with Total set: the unit's).
type Row struct {
	Unit          string  `json:"unit"`
	Week          string  `json:"week"`
	Officer       string  `json:"officer"`
	Total         bool    `json:"total,omitempty"`
	Recordings    int     `json:"recordings"`
	Segments      int     `json:"segments"`
	Interruptions int     `json:"interruptions"`
	Explained     int     `json:"explained"`
	ExplainedRate float64 `json:"explained_rate"` // explained / judged interruptions; 1 with none
	Late          int     `json:"late"`           // segments stored after the deadline
	LateRate      float64 `json:"late_rate"`      // late / segments
	Holes         int     `json:"holes"`          // sequence holes and lost tails
	Acknowledged  int     `json:"acknowledged"`   // alerts acknowledged
	MeanAckHours  float64 `json:"mean_ack_hours"` // mean time from opening to acknowledgement
}

// ErrWeek reports a week not written as ISO 8601 (2026-W48).
var ErrWeek = errors.New("compliance: week must be ISO 8601, like 2026-W48")

// ParseWeek returns the Monday 00:00 UTC starting ISO week w ("2026-W48").
func ParseWeek(w string) (time.Time, error) {
	y, n, ok := strings.Cut(w, "-W")
	year, err1 := strconv.Atoi(y)
	week, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || year < 1970 || year > 9999 || week < 1 || week > 53 {
		return time.Time{}, fmt.Errorf("%w: %q", ErrWeek, w)
	}
	jan4 := time.Date(year, 1, 4, 0, 0, 0, 0, time.UTC)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
	start := monday.AddDate(0, 0, 7*(week-1))
	if y2, w2 := start.ISOWeek(); y2 != year || w2 != week {
		return time.Time{}, fmt.Errorf("%w: %q has no week %d", ErrWeek, w, week)
	}
	return start, nil
}

// Report returns the week's rows of unit: one per officer, by officer,
// then the unit's total. Recordings and segments count by recording start
// in the week (drift-corrected as the store keeps them); alerts by when
// their event happened.
func Report(ctx context.Context, st Store, p rules.Policy, unit, week string) ([]Row, error) {
	from, err := ParseWeek(week)
	if err != nil {
		return nil, err
	}
	to := from.AddDate(0, 0, 7)
	rows := map[string]*Row{}
	row := func(officer string) *Row {
		if r, ok := rows[officer]; ok {
			return r
		}
		r := &Row{Unit: unit, Week: week, Officer: officer}
		rows[officer] = r
		return r
	}
	devs, err := st.Devices(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range devs {
		if d.Unit != unit {
			continue
		}
		segs, err := st.Segments(ctx, d.Serial, from, to)
		if err != nil {
			return nil, err
		}
		var ts []timeline.Segment
		for _, s := range segs {
			if s.CorrectedStart.Before(from) || !s.CorrectedStart.Before(to) {
				continue
			}
			ts = append(ts, timeline.Segment{Seq: s.Seq, Start: s.CorrectedStart, End: s.CorrectedEnd, StopCause: s.StopCause, Officer: s.Officer})
		}
		tl := timeline.Build(d.Serial, ts, nil, p)
		for _, s := range tl.Segments {
			row(s.Officer).Segments++
		}
		for _, r := range tl.Recordings {
			row(tl.Segments[r.First].Officer).Recordings++
		}
	}
	as, err := st.Alerts(ctx, store.AlertFilter{Unit: unit, Limit: 1 << 30})
	if err != nil {
		return nil, err
	}
	var ackSum = map[string]time.Duration{}
	for _, a := range as {
		if a.At.Before(from) || !a.At.Before(to) {
			continue
		}
		r := row(a.Officer)
		switch a.Kind {
		case "interruption-explained":
			r.Interruptions++
			r.Explained++
		case "interruption-unexplained":
			r.Interruptions++
		case timeline.KindLateUpload:
			r.Late++
		case timeline.KindSequenceHole, "sequence-tail-lost":
			r.Holes++
		}
		if !a.AcknowledgedAt.IsZero() {
			r.Acknowledged++
			ackSum[a.Officer] += a.AcknowledgedAt.Sub(a.OpenedAt)
		}
	}
	total := Row{Unit: unit, Week: week, Total: true}
	var totalAck time.Duration
	out := make([]Row, 0, len(rows)+1)
	for _, o := range slices.Sorted(maps.Keys(rows)) {
		r := rows[o]
		finish(r, ackSum[o])
		out = append(out, *r)
		total.Recordings += r.Recordings
		total.Segments += r.Segments
		total.Interruptions += r.Interruptions
		total.Explained += r.Explained
		total.Late += r.Late
		total.Holes += r.Holes
		total.Acknowledged += r.Acknowledged
		totalAck += ackSum[o]
	}
	finish(&total, totalAck)
	return append(out, total), nil
}

func finish(r *Row, ack time.Duration) {
	r.ExplainedRate = 1
	if r.Interruptions > 0 {
		r.ExplainedRate = float64(r.Explained) / float64(r.Interruptions)
	}
	if r.Segments > 0 {
		r.LateRate = float64(r.Late) / float64(r.Segments)
	}
	if r.Acknowledged > 0 {
		r.MeanAckHours = ack.Hours() / float64(r.Acknowledged)
	}
}
