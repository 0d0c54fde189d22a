// Package api holds the bodies of the console's HTTP JSON API (described
// in ../openapi.json) that its clients decode: the console answers with
// these types and `collector evidence` reads them, so each body is
// written once.
package api

import (
	"slices"
	"time"
)

// Footage is one segment an evidence search finds.
type Footage struct {
	Serial  string     `json:"serial"`
	Seq     uint64     `json:"seq"`
	Officer string     `json:"officer"`
	Unit    string     `json:"unit"`
	Start   time.Time  `json:"start"`
	End     time.Time  `json:"end"`
	CaseTag string     `json:"case_tag"`
	Object  string     `json:"object"` // "" while not in the evidence store
	Held    bool       `json:"held"`
	Links   []CaseLink `json:"links"`
}

// Cases is every case number of the segment: the tag the recorder
// reported and the links made since, each once.
func (f Footage) Cases() []string {
	var out []string
	if f.CaseTag != "" {
		out = append(out, f.CaseTag)
	}
	for _, l := range f.Links {
		if !slices.Contains(out, l.Case) {
			out = append(out, l.Case)
		}
	}
	return out
}

// CaseLink is footage linked to a case after the fact, by whom and why.
type CaseLink struct {
	Case   string    `json:"case"`
	Type   string    `json:"type,omitempty"`
	Party  string    `json:"party,omitempty"`
	By     string    `json:"by"`
	Role   string    `json:"role"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// FootagePage is a page of an evidence search (GET /api/evidence); Next,
// if not empty, is the cursor (after=) of the next page.
type FootagePage struct {
	Segments []Footage `json:"segments"`
	Next     string    `json:"next"`
}

// LinkCase asks to link a segment to a case (POST
// /api/evidence/{serial}/{seq}/links); Type is the retention policy's case
// type (complaint, lawsuit, ...).
type LinkCase struct {
	Case   string `json:"case"`
	Type   string `json:"type,omitempty"`
	Party  string `json:"party,omitempty"`
	Reason string `json:"reason"`
}

// CaseLinked answers LinkCase: the segment is kept until RetainUntil,
// enforced by the object store's lock or by the application (EnforcedBy:
// "object-store" or "application").
type CaseLinked struct {
	Serial      string    `json:"serial"`
	Seq         uint64    `json:"seq"`
	Case        string    `json:"case"`
	By          string    `json:"by"`
	RetainUntil time.Time `json:"retain_until"`
	EnforcedBy  string    `json:"enforced_by"`
}

// Reason is the body of an action that needs only a written reason (a
// legal hold set or lifted, an export approved or refused).
type Reason struct {
	Reason string `json:"reason"`
}

// HoldChanged answers a legal hold set (Held) or lifted on a segment's
// object (POST .../hold, .../lift-hold).
type HoldChanged struct {
	Object     string `json:"object"`
	Held       bool   `json:"held"`
	By         string `json:"by"`
	EnforcedBy string `json:"enforced_by"`
}

// Hold is one legal-hold event of an object: set or lifted.
type Hold struct {
	Held   bool      `json:"held"`
	By     string    `json:"by"`
	Role   string    `json:"role"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Holds is a segment's object and its legal-hold history
// (GET /api/evidence/{serial}/{seq}/holds).
type Holds struct {
	Object string `json:"object"`
	Holds  []Hold `json:"holds"`
}

// Access is one row of the footage access log.
type Access struct {
	At      time.Time `json:"at"`
	Viewer  string    `json:"viewer"`
	Role    string    `json:"role"`
	Object  string    `json:"object"`
	Action  string    `json:"action"`
	Granted bool      `json:"granted"`
	Reason  string    `json:"reason"`
	Remote  string    `json:"remote"`
}

// AccessPage is the access log's answer (GET /api/access).
type AccessPage struct {
	Accesses []Access `json:"accesses"`
}

// Export is an export with its items and history.
type Export struct {
	ID        int64         `json:"id"`
	Unit      string        `json:"unit"`
	Recipient string        `json:"recipient"`
	Purpose   string        `json:"purpose"`
	By        string        `json:"requested_by"`
	At        time.Time     `json:"requested_at"`
	State     string        `json:"state"`
	Items     []ExportItem  `json:"items"`
	Events    []ExportEvent `json:"events"`
	// Can is what the caller may do with it now: approve, refuse,
	// package, download.
	Can []string `json:"can"`
}

// CanDo says whether the caller may do a (one of Can) now.
func (x Export) CanDo(a string) bool { return slices.Contains(x.Can, a) }

// ExportItem is one segment of an export.
type ExportItem struct {
	Serial string `json:"serial"`
	Seq    uint64 `json:"seq"`
	Object string `json:"object"`
}

// ExportEvent is one step of an export's history.
type ExportEvent struct {
	State  string    `json:"state"`
	By     string    `json:"by"`
	Role   string    `json:"role"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// ExportRequest asks for an export of segments (POST /api/exports).
type ExportRequest struct {
	Items     []Segment `json:"items"`
	Recipient string    `json:"recipient"`
	Purpose   string    `json:"purpose"`
}

// Segment names a recorder's segment.
type Segment struct {
	Serial string `json:"serial"`
	Seq    uint64 `json:"seq"`
}
