package timeline

import "time"

// Assignment is a recorder checked out to an officer at a dock (a card
// tap): from the tap until the recorder's next docking (Until zero while
// it has not docked since). Times are the dock's (true) clock.
type Assignment struct {
	Officer     string
	From, Until time.Time
}

// OfficerAt is the officer the latest assignment covering t names, or ""
// when none covers it (the recorder's configured officer stands).
func OfficerAt(as []Assignment, t time.Time) string {
	officer := ""
	var latest time.Time
	for _, a := range as {
		if t.Before(a.From) || !a.Until.IsZero() && !t.Before(a.Until) {
			continue
		}
		if officer == "" || a.From.After(latest) {
			officer, latest = a.Officer, a.From
		}
	}
	return officer
}

// Assign names, on every segment recorded while the recorder was checked
// out, the officer who took it instead of the recorder's configured
// officer. Call it after Build (segment times corrected), before Analyze.
func (tl Timeline) Assign(as []Assignment) {
	if len(as) == 0 {
		return
	}
	for i := range tl.Segments {
		if o := OfficerAt(as, tl.Segments[i].Start); o != "" {
			tl.Segments[i].Officer = o
		}
	}
}
