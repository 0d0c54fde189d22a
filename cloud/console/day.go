package console

import (
	"fmt"
	"html"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/store"
)

// dayView is a recorder's day around an alert, drawn on the server as SVG:
// its segments on the drift-corrected time axis, the gap of the
// interruption, the dockings and the clock corrections made at them.
type dayView struct {
	Day      time.Time
	Segments int
	SVG      template.HTML
}

const (
	svgW, svgH   = 960.0, 120.0
	svgPad       = 20.0
	segY, segH   = 30.0, 34.0
	dockY, axisY = 80.0, 100.0
)

// day loads and draws the recorder's day (in the agency's zone) of a.
func (c *Console) day(r *request, a store.Alert, ev alert.Evidence) (*dayView, error) {
	at := a.At
	if at.IsZero() {
		at = a.OpenedAt
	}
	loc := c.o.Location
	t := at.In(loc)
	from := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	to := from.AddDate(0, 0, 1)
	segs, err := c.o.Store.Segments(r.ctx, a.Serial, from, to)
	if err != nil {
		return nil, err
	}
	// Only footage of the caller's units is drawn (Segment.Unit, the
	// footage's unit, as footageFor judges it): a recorder enrolled
	// nowhere carries footage of each unit whose dock uploaded it, and
	// the alert's unit need not be theirs.
	segs = slices.DeleteFunc(segs, func(s store.Segment) bool { return !r.who.InScope(s.Unit) })
	docks, err := c.o.Store.DeviceHealth(r.ctx, a.Serial, from, to)
	if err != nil {
		return nil, err
	}
	// The axis spans the day's activity (a 90 s gap is invisible on 24 h),
	// widened by a tenth on each side.
	lo, hi := at, at
	widen := func(ts ...time.Time) {
		for _, x := range ts {
			if x.IsZero() || x.Before(from) || !x.Before(to) {
				continue
			}
			if x.Before(lo) {
				lo = x
			}
			if x.After(hi) {
				hi = x
			}
		}
	}
	for _, s := range segs {
		widen(s.CorrectedStart, s.CorrectedEnd)
	}
	widen(ev.StoppedAt, ev.ResumedAt)
	for _, h := range docks {
		widen(h.Health.DockedAt)
	}
	span := hi.Sub(lo)
	if span < 2*time.Minute {
		span = 2 * time.Minute
	}
	lo, hi = lo.Add(-span/10), hi.Add(span/10)
	l := localizer{lang: r.lang, loc: loc}
	// A second strip zooms on the interruption: minutes around the stop
	// and the restart, where the gap and the opening window are visible.
	zoom := !ev.StoppedAt.IsZero() && !ev.ResumedAt.IsZero()
	height := svgH
	if zoom {
		height = 2 * svgH
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="day" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, svgW, height, html.EscapeString(l.T("day")))
	c.strip(&b, l, 0, lo, hi, segs, docks, a, ev)
	if zoom {
		pad := max(ev.ResumedAt.Sub(ev.StoppedAt), time.Minute) + c.o.OpeningWindow
		c.strip(&b, l, svgH, ev.StoppedAt.Add(-pad), ev.ResumedAt.Add(pad), segs, docks, a, ev)
	}
	b.WriteString(`</svg>`)
	return &dayView{Day: from, Segments: len(segs), SVG: template.HTML(b.String())}, nil
}

// strip draws one time axis [lo, hi) at vertical offset y0: the segments
// (the alert's own highlighted), the interruption's gap with the opening
// window after the restart, and the dockings with the clock offset each
// measured.
func (c *Console) strip(b *strings.Builder, l localizer, y0 float64, lo, hi time.Time, segs []store.Segment,
	docks []store.HealthRecord, a store.Alert, ev alert.Evidence) {
	x := func(t time.Time) float64 {
		v := svgPad + (svgW-2*svgPad)*float64(t.Sub(lo))/float64(hi.Sub(lo))
		return min(max(v, svgPad-5), svgW-svgPad+5)
	}
	in := func(t time.Time) bool { return !t.Before(lo) && t.Before(hi) }
	fmt.Fprintf(b, `<g transform="translate(0 %.0f)">`, y0)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="axis"/>`, svgPad, axisY, svgW-svgPad, axisY)
	for i := 0; i <= 6; i++ {
		tt := lo.Add(time.Duration(i) * hi.Sub(lo) / 6)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="tick"/><text x="%.1f" y="%.1f" class="tick">%s</text>`,
			x(tt), axisY-3, x(tt), axisY+3, x(tt), axisY+15, l.Clock(tt))
	}
	if !ev.StoppedAt.IsZero() && !ev.ResumedAt.IsZero() {
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="gap"><title>%s %s → %s %s</title></rect>`,
			x(ev.StoppedAt), segY-6, max(x(ev.ResumedAt)-x(ev.StoppedAt), 2), segH+12,
			html.EscapeString(l.T("stopped-at")), l.Clock(ev.StoppedAt), html.EscapeString(l.T("resumed-at")), l.Clock(ev.ResumedAt))
		end := ev.ResumedAt.Add(c.o.OpeningWindow)
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="4" class="window"><title>%s</title></rect>`,
			x(ev.ResumedAt), segY+segH+2, max(x(end)-x(ev.ResumedAt), 2), html.EscapeString(l.T("player")))
	}
	for _, s := range segs {
		if !s.CorrectedEnd.After(lo) || !s.CorrectedStart.Before(hi) {
			continue
		}
		cls := "seg"
		if s.Seq == a.Seq {
			cls += " this"
		}
		if s.FollowsInterruption {
			cls += " resumed"
		}
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s" data-seq="%d"><title>#%d %s–%s %s</title></rect>`,
			x(s.CorrectedStart), segY, max(x(s.CorrectedEnd)-x(s.CorrectedStart), 1.5), segH, cls, s.Seq,
			s.Seq, l.Clock(s.CorrectedStart), l.Clock(s.CorrectedEnd), html.EscapeString(s.StopCause))
	}
	for _, h := range docks {
		d := h.Health
		if !in(d.DockedAt) {
			continue
		}
		label := l.T("dock") + " " + h.Dock
		if d.ClockOffsetMs != 0 {
			label += fmt.Sprintf(" · %s %+.1f s", l.T("drift"), float64(d.ClockOffsetMs)/1000)
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="docking"/><text x="%.1f" y="%.1f" class="docking" text-anchor="end">%s</text>`,
			x(d.DockedAt), segY-10, x(d.DockedAt), dockY, x(d.DockedAt)-3, dockY, html.EscapeString(label))
	}
	b.WriteString(`</g>`)
}
