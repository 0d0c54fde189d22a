package console

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/console/api"
	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
)

// Custody is what the evidence pages and API act through: the same
// functions of package custody and the store that `collector evidence`
// calls (one mechanism), with who acts taken from the sign-in.
type Custody struct {
	Evidence  evidence.Store
	Retention custody.Retention
	// Key signs export manifests (the collector's receipt key).
	Key ed25519.PrivateKey
	// ExportDir holds the packages made (one directory per export,
	// export-ID): the copy kept, and what a download zips.
	ExportDir string
}

// canSearchEvidence: supervisors (their units) and admins; auxiliary staff
// and custodians never handle footage (rule 6).
func canSearchEvidence(p people.Principal) bool {
	return p.Role == people.RoleSupervisor || p.Role == people.RoleAdmin
}

// canExport: who may ask for an export, package and download one
// approved (the store checks the roles again; auxiliary staff and
// custodians never, rule 6).
func canExport(p people.Principal) bool {
	return p.Role == people.RoleSupervisor || p.Role == people.RoleOfficer || p.Role == people.RoleAdmin
}

func (c *Console) custody() (*Custody, error) {
	if c.o.Custody == nil {
		return nil, refuse(http.StatusServiceUnavailable, "evidence custody is not configured on this console")
	}
	return c.o.Custody, nil
}

// actor is who acts, for the store's custody records.
func actor(p people.Principal, unit string) store.Actor {
	return store.Actor{Name: p.Name, Role: p.Role, Unit: unit}
}

// scopeOf is a person's units for a store query: nil (every unit) for an
// admin, else the units they supervise.
func scopeOf(p people.Principal) []string {
	if p.Role == people.RoleAdmin {
		return nil
	}
	return append([]string{}, p.Units...)
}

// searchEvidence answers an evidence search from the query (case, party,
// officer, recorder, unit, from, to as YYYY-MM-DD in the agency's zone,
// limit, after: the cursor of the previous page's last row), within the
// caller's units: the store filters by unit in the query, so a page is
// full whatever other units hold. next is the cursor of the page's last
// row when the page is full ("" when there is no more).
func (c *Console) searchEvidence(r *request) (rows []api.Footage, next string, err error) {
	if !canSearchEvidence(r.who) {
		return nil, "", refuse(http.StatusForbidden, "role "+r.who.Role+" may not search evidence (rule 6)")
	}
	q := r.URL.Query()
	cq := store.CaseQuery{Case: strings.TrimSpace(q.Get("case")), Party: strings.TrimSpace(q.Get("party")),
		Officer: strings.TrimSpace(q.Get("officer")), Recorder: strings.TrimSpace(q.Get("recorder")),
		Unit: strings.TrimSpace(q.Get("unit")), Units: scopeOf(r.who), Limit: 200}
	for name, dst := range map[string]*time.Time{"from": &cq.From, "to": &cq.To} {
		if v := q.Get(name); v != "" {
			t, err := time.ParseInLocation("2006-01-02", v, c.o.Location)
			if err != nil {
				if t, err = time.Parse(time.RFC3339, v); err != nil {
					return nil, "", refuse(http.StatusBadRequest, name+": want YYYY-MM-DD or RFC 3339")
				}
			} else if name == "to" {
				t = t.AddDate(0, 0, 1)
			}
			*dst = t
		}
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n <= 1000 {
		cq.Limit = n
	}
	if v := q.Get("after"); v != "" {
		after, err := store.ParseCaseCursor(v)
		if err != nil {
			return nil, "", refuse(http.StatusBadRequest, "after: want the next cursor of the previous page")
		}
		cq.After = &after
	}
	if cq.Unit != "" && !r.who.InScope(cq.Unit) {
		return nil, "", refuse(http.StatusForbidden, "unit "+cq.Unit+" is outside your units")
	}
	hits, err := c.o.Store.FindFootage(r.ctx, cq)
	if err != nil {
		return nil, "", err
	}
	rows = []api.Footage{}
	for _, h := range hits {
		row := api.Footage{Serial: h.Serial, Seq: h.Seq, Officer: h.Officer, Unit: h.Unit, Start: h.Start, End: h.End, CaseTag: h.CaseTag,
			Object: h.Object, Links: []api.CaseLink{}}
		for _, l := range h.Links {
			row.Links = append(row.Links, api.CaseLink{Case: l.Case, Type: l.Type, Party: l.Party, By: l.By.Name, Role: l.By.Role, Reason: l.Reason, At: l.At})
		}
		if h.Object != "" {
			hs, err := c.o.Store.Holds(r.ctx, objectID(h.Object))
			if err != nil {
				return nil, "", err
			}
			row.Held = len(hs) > 0 && hs[len(hs)-1].Held
		}
		rows = append(rows, row)
	}
	if len(hits) == cq.Limit {
		next = hits[len(hits)-1].Cursor().String()
	}
	return rows, next, nil
}

// objectID is the object's id of a receipt's object (id or id@version).
func objectID(ref string) string { return strings.SplitN(ref, "@", 2)[0] }

// segmentFor loads segment {serial}/{seq} of the path if it is within the
// caller's units (else it is as if it did not exist).
func (c *Console) segmentFor(r *request) (api.Footage, error) {
	serial := r.PathValue("serial")
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 63)
	if err != nil || serial == "" || len(serial) > 128 {
		return api.Footage{}, refuse(http.StatusBadRequest, "want /evidence/SERIAL/SEQ")
	}
	return c.footageFor(r, serial, seq)
}

// footageFor loads segment serial/seq if its unit (store.CaseHit.Unit:
// the recorder's enrolled unit, else that of the dock whose upload the
// segment's receipt was issued for, else that of the dock that reported
// the segment) is within the caller's units, else refuses with 404 as if
// it did not exist. It is the one judgement of whose footage a segment
// is, for the evidence pages and for every clip served (serveFootage);
// the store's (Store.Footage) is the same as its searches'.
func (c *Console) footageFor(r *request, serial string, seq uint64) (api.Footage, error) {
	if serial == "" || len(serial) > 128 || seq > math.MaxInt64 {
		return api.Footage{}, refuse(http.StatusNotFound, "no such segment")
	}
	h, ok, err := c.o.Store.Footage(r.ctx, serial, seq)
	if err != nil {
		return api.Footage{}, err
	}
	if !ok || !r.who.InScope(h.Unit) {
		return api.Footage{}, refuse(http.StatusNotFound, fmt.Sprintf("no segment %s/%d", serial, seq))
	}
	row := api.Footage{Serial: serial, Seq: seq, Officer: h.Officer, Unit: h.Unit, Start: h.Start, End: h.End,
		CaseTag: h.CaseTag, Object: h.Object, Links: []api.CaseLink{}}
	if row.Object != "" {
		hs, err := c.o.Store.Holds(r.ctx, objectID(row.Object))
		if err != nil {
			return row, err
		}
		row.Held = len(hs) > 0 && hs[len(hs)-1].Held
	}
	for _, l := range h.Links {
		row.Links = append(row.Links, api.CaseLink{Case: l.Case, Type: l.Type, Party: l.Party, By: l.By.Name, Role: l.By.Role, Reason: l.Reason, At: l.At})
	}
	return row, nil
}

// custodyError maps the store's and custody's refusals to what the person
// sees.
func custodyError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotPermitted):
		return refuse(http.StatusForbidden, err.Error())
	case errors.Is(err, store.ErrArgument):
		return refuse(http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrHoldState), errors.Is(err, store.ErrExportState):
		return refuse(http.StatusConflict, err.Error())
	case errors.Is(err, evidence.ErrNotFound):
		return refuse(http.StatusNotFound, err.Error())
	}
	return err
}

// linkCase links the segment to a case through custody.Linker.
func (c *Console) linkCase(r *request, seg api.Footage, caseNo, caseType, party, reason string) (time.Time, custody.Enforcement, error) {
	cu, err := c.custody()
	if err != nil {
		return time.Time{}, "", err
	}
	k := custody.Linker{Store: c.o.Store, Evidence: cu.Evidence, Policy: cu.Retention}
	until, how, err := k.Link(r.ctx, store.CaseLink{Serial: seg.Serial, Seq: seg.Seq, Case: strings.TrimSpace(caseNo), Type: strings.TrimSpace(caseType),
		Party: strings.TrimSpace(party), By: actor(r.who, seg.Unit), Reason: strings.TrimSpace(reason)})
	if err == nil {
		c.o.Log.Info("console: case linked", "serial", seg.Serial, "seq", seg.Seq, "case", caseNo, "by", r.who.Name)
	}
	return until, how, custodyError(err)
}

// hold sets (on) or lifts a legal hold through custody.Holds.
func (c *Console) hold(r *request, seg api.Footage, on bool, reason string) (custody.Enforcement, error) {
	cu, err := c.custody()
	if err != nil {
		return "", err
	}
	if seg.Object == "" {
		return "", refuse(http.StatusConflict, "the segment is not in the evidence store yet: nothing to hold")
	}
	h := custody.Holds{Store: c.o.Store, Evidence: cu.Evidence, Log: c.o.Log}
	var how custody.Enforcement
	if on {
		how, err = h.Set(r.ctx, actor(r.who, seg.Unit), seg.Object, strings.TrimSpace(reason))
	} else {
		how, err = h.Lift(r.ctx, actor(r.who, seg.Unit), seg.Object, strings.TrimSpace(reason))
	}
	return how, custodyError(err)
}
