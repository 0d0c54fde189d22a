package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/console/api"
	"github.com/berthdock/berth/cloud/store"
)

// evidenceRoutes mounts the custody pages and API (issue 12 items 4-6):
// evidence search, play (logged), case links, legal holds, exports with
// approval and their packages, and the access log. Every action names who
// from the sign-in; the rules are custody's and the store's.
func (c *Console) evidenceRoutes(mux *http.ServeMux) {
	// Pages.
	mux.HandleFunc("GET /evidence", c.page(c.evidencePage))
	mux.HandleFunc("GET /evidence/{serial}/{seq}", c.page(c.segmentPage))
	mux.HandleFunc("GET /evidence/{serial}/{seq}/clip", c.page(func(r *request) error {
		seg, err := c.segmentFor(r)
		if err != nil {
			return err
		}
		return c.serveFootage(r, seg.Serial, seg.Seq, "evidence")
	}))
	mux.HandleFunc("POST /evidence/{serial}/{seq}/act", c.page(c.segmentAct))
	mux.HandleFunc("POST /evidence/export", c.page(c.exportForm))
	mux.HandleFunc("GET /exports", c.page(c.exportsPage))
	mux.HandleFunc("POST /exports/{id}/act", c.page(c.exportAct))
	mux.HandleFunc("GET /exports/{id}/package.zip", c.page(c.downloadExport))

	// API.
	mux.HandleFunc("GET /api/evidence", c.apiPage(func(r *request) (any, error) {
		rows, next, err := c.searchEvidence(r)
		return api.FootagePage{Segments: rows, Next: next}, err
	}))
	mux.HandleFunc("GET /api/evidence/{serial}/{seq}", c.apiPage(func(r *request) (any, error) {
		if !canSearchEvidence(r.who) {
			return nil, refuse(http.StatusForbidden, "role "+r.who.Role+" may not search evidence (rule 6)")
		}
		return c.segmentFor(r)
	}))
	mux.HandleFunc("POST /api/evidence/{serial}/{seq}/links", c.apiPage(func(r *request) (any, error) {
		var body api.LinkCase
		if err := decodeBody(r, &body); err != nil {
			return nil, err
		}
		seg, err := c.segmentFor(r)
		if err != nil {
			return nil, err
		}
		until, how, err := c.linkCase(r, seg, body.Case, body.Type, body.Party, body.Reason)
		if err != nil {
			return nil, err
		}
		return api.CaseLinked{Serial: seg.Serial, Seq: seg.Seq, Case: body.Case, By: r.who.Name, RetainUntil: until, EnforcedBy: string(how)}, nil
	}))
	for _, act := range []string{"hold", "lift-hold"} {
		mux.HandleFunc("POST /api/evidence/{serial}/{seq}/"+act, c.apiPage(func(r *request) (any, error) {
			var body api.Reason
			if err := decodeBody(r, &body); err != nil {
				return nil, err
			}
			seg, err := c.segmentFor(r)
			if err != nil {
				return nil, err
			}
			how, err := c.hold(r, seg, act == "hold", body.Reason)
			if err != nil {
				return nil, err
			}
			return api.HoldChanged{Object: seg.Object, Held: act == "hold", By: r.who.Name, EnforcedBy: string(how)}, nil
		}))
	}
	mux.HandleFunc("GET /api/evidence/{serial}/{seq}/holds", c.apiPage(func(r *request) (any, error) {
		if !canSearchEvidence(r.who) {
			return nil, refuse(http.StatusForbidden, "role "+r.who.Role+" may not search evidence (rule 6)")
		}
		seg, err := c.segmentFor(r)
		if err != nil {
			return nil, err
		}
		hs, err := c.o.Store.Holds(r.ctx, objectID(seg.Object))
		out := api.Holds{Object: seg.Object, Holds: []api.Hold{}}
		for _, h := range hs {
			out.Holds = append(out.Holds, api.Hold{Held: h.Held, By: h.By.Name, Role: h.By.Role, Reason: h.Reason, At: h.At})
		}
		return out, err
	}))
	mux.HandleFunc("GET /api/exports", c.apiPage(func(r *request) (any, error) {
		es, err := c.listExports(r)
		return map[string]any{"exports": es}, err
	}))
	mux.HandleFunc("POST /api/exports", c.apiPage(func(r *request) (any, error) {
		var body api.ExportRequest
		if err := decodeBody(r, &body); err != nil {
			return nil, err
		}
		e, err := c.requestExport(r, body)
		if err != nil {
			return nil, err
		}
		return c.exportView(r, e), nil
	}))
	mux.HandleFunc("GET /api/exports/{id}", c.apiPage(func(r *request) (any, error) {
		e, err := c.exportFor(r)
		if err != nil {
			return nil, err
		}
		return c.exportView(r, e), nil
	}))
	for _, act := range []string{"approve", "refuse"} {
		mux.HandleFunc("POST /api/exports/{id}/"+act, c.apiPage(func(r *request) (any, error) {
			var body api.Reason
			if err := decodeBody(r, &body); err != nil {
				return nil, err
			}
			e, err := c.exportFor(r)
			if err != nil {
				return nil, err
			}
			if e, err = c.decideExport(r, e, act == "approve", body.Reason); err != nil {
				return nil, err
			}
			return c.exportView(r, e), nil
		}))
	}
	mux.HandleFunc("POST /api/exports/{id}/package", c.apiPage(func(r *request) (any, error) {
		e, err := c.exportFor(r)
		if err != nil {
			return nil, err
		}
		m, err := c.packageExport(r, e)
		if err != nil {
			return nil, err
		}
		return map[string]any{"export": e.ID, "manifest": m, "download": fmt.Sprintf("/api/exports/%d/package.zip", e.ID)}, nil
	}))
	mux.HandleFunc("GET /api/exports/{id}/package.zip", c.page(c.downloadExport))
	mux.HandleFunc("GET /api/access", c.apiPage(func(r *request) (any, error) {
		as, err := c.accessLog(r)
		return api.AccessPage{Accesses: as}, err
	}))
}

// decodeBody reads a small JSON body; unknown fields are refused.
func decodeBody(r *request, v any) error {
	r.Body = http.MaxBytesReader(r.w, r.Body, 256<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return refuse(http.StatusBadRequest, "want a JSON body as /api/openapi.json describes: "+err.Error())
	}
	return nil
}

// accessLog reads the footage access log for a supervisor (accesses to
// their units' footage only) or an admin (an auditor: all): who viewed or
// exported what, when, from where; filtered by object, viewer, action,
// unit and time.
func (c *Console) accessLog(r *request) ([]api.Access, error) {
	if !canSearchEvidence(r.who) {
		return nil, refuse(http.StatusForbidden, "role "+r.who.Role+" may not read the access log")
	}
	q := r.URL.Query()
	aq := store.AccessQuery{ObjectID: q.Get("object"), Viewer: q.Get("viewer"), Action: q.Get("action"), Unit: q.Get("unit"),
		Units: scopeOf(r.who), Limit: 1000}
	if aq.Unit != "" && !r.who.InScope(aq.Unit) {
		return nil, refuse(http.StatusForbidden, "unit "+aq.Unit+" is outside your units")
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n <= 10000 {
		aq.Limit = n
	}
	for name, dst := range map[string]*time.Time{"since": &aq.Since, "until": &aq.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, refuse(http.StatusBadRequest, name+": want RFC 3339")
			}
			*dst = t
		}
	}
	as, err := c.o.Store.AccessLog(r.ctx, aq)
	out := []api.Access{}
	for _, a := range as {
		out = append(out, api.Access{At: a.At, Viewer: a.Viewer, Role: a.Role, Object: a.ObjectID, Action: a.Action, Granted: a.Granted,
			Reason: a.Reason, Remote: a.Remote})
	}
	return out, err
}

// Pages.

func (c *Console) evidencePage(r *request) error {
	data := map[string]any{"Q": r.URL.Query(), "CanPlay": r.who.CanViewFootage(), "CanExport": canExport(r.who)}
	if r.URL.Query().Has("search") {
		rows, next, err := c.searchEvidence(r)
		if err != nil {
			return err
		}
		data["Rows"], data["Searched"] = rows, true
		q := r.URL.Query()
		if next != "" {
			q.Set("after", next)
			data["Next"] = "/evidence?" + q.Encode()
		}
		if q.Has("after") && r.URL.Query().Get("after") != "" {
			q.Del("after")
			data["First"] = "/evidence?" + q.Encode()
		}
	} else if !canSearchEvidence(r.who) {
		return refuse(http.StatusForbidden, "role "+r.who.Role+" may not search evidence (rule 6)")
	}
	c.render(r, "evidence", data)
	return nil
}

func (c *Console) segmentPage(r *request) error {
	if !canSearchEvidence(r.who) {
		return refuse(http.StatusForbidden, "role "+r.who.Role+" may not search evidence (rule 6)")
	}
	seg, err := c.segmentFor(r)
	if err != nil {
		return err
	}
	c.render(r, "segment", map[string]any{"S": seg, "CanPlay": r.who.CanViewFootage() && seg.Object != "",
		"ClipURL": fmt.Sprintf("/evidence/%s/%d/clip", seg.Serial, seg.Seq), "CanExport": canExport(r.who),
		"CanHold": r.who.Role == "supervisor" || r.who.Role == "admin"})
	return nil
}

func (c *Console) segmentAct(r *request) error {
	r.Body = http.MaxBytesReader(r.w, r.Body, 64<<10)
	seg, err := c.segmentFor(r)
	if err != nil {
		return err
	}
	switch r.FormValue("action") {
	case "link":
		_, _, err = c.linkCase(r, seg, r.FormValue("case"), r.FormValue("type"), r.FormValue("party"), r.FormValue("reason"))
	case "hold", "lift-hold":
		_, err = c.hold(r, seg, r.FormValue("action") == "hold", r.FormValue("reason"))
	default:
		err = refuse(http.StatusBadRequest, "unknown action")
	}
	if err != nil {
		return err
	}
	http.Redirect(r.w, r.Request, fmt.Sprintf("/evidence/%s/%d", seg.Serial, seg.Seq), http.StatusSeeOther)
	return nil
}

// exportForm requests an export of the segments ticked on the search page
// (item values SERIAL/SEQ).
func (c *Console) exportForm(r *request) error {
	r.Body = http.MaxBytesReader(r.w, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		return refuse(http.StatusBadRequest, "bad form")
	}
	var req api.ExportRequest
	req.Recipient, req.Purpose = r.FormValue("recipient"), r.FormValue("purpose")
	for _, v := range r.Form["item"] {
		serial, seqS, ok := strings.Cut(v, "/")
		seq, err := strconv.ParseUint(seqS, 10, 63)
		if !ok || err != nil {
			return refuse(http.StatusBadRequest, "bad item "+loggable(v))
		}
		req.Items = append(req.Items, api.Segment{Serial: serial, Seq: seq})
	}
	if _, err := c.requestExport(r, req); err != nil {
		return err
	}
	http.Redirect(r.w, r.Request, "/exports", http.StatusSeeOther)
	return nil
}

func (c *Console) exportsPage(r *request) error {
	es, err := c.listExports(r)
	if err != nil {
		return err
	}
	c.render(r, "exports", map[string]any{"Exports": es})
	return nil
}

func (c *Console) exportAct(r *request) error {
	r.Body = http.MaxBytesReader(r.w, r.Body, 64<<10)
	e, err := c.exportFor(r)
	if err != nil {
		return err
	}
	switch a := r.FormValue("action"); a {
	case "approve", "refuse":
		_, err = c.decideExport(r, e, a == "approve", r.FormValue("reason"))
	case "package":
		_, err = c.packageExport(r, e)
	default:
		err = refuse(http.StatusBadRequest, "unknown action")
	}
	if err != nil {
		return err
	}
	http.Redirect(r.w, r.Request, fmt.Sprintf("/exports#export-%d", e.ID), http.StatusSeeOther)
	return nil
}
