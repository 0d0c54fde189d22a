package console

import (
	_ "embed"
	"encoding/json"
	"net/http"

	"github.com/berthdock/berth/cloud/store"
)

//go:embed openapi.json
var openAPI []byte

// api mounts the JSON API: the same data and the same checks as the pages
// (the handlers share fleetData, alertFor, loadAlertView and act). Callers
// authenticate with an API token as a bearer (collector user token) or a
// browser session (state changes then need the X-CSRF-Token header).
func (c *Console) api(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	mux.HandleFunc("GET /api/me", c.apiPage(func(r *request) (any, error) { return r.who, nil }))
	mux.HandleFunc("GET /api/alerts", c.apiPage(func(r *request) (any, error) {
		if !r.who.CanSeeAlerts() {
			return nil, refuse(http.StatusForbidden, "role "+r.who.Role+" has no alert inbox")
		}
		f, err := inboxFilter(r)
		if err != nil {
			return nil, err
		}
		list, err := c.o.Store.Alerts(r.ctx, f)
		if err != nil {
			return nil, err
		}
		counts, err := c.o.Store.AlertCounts(r.ctx, f)
		if err != nil {
			return nil, err
		}
		if list == nil {
			list = []store.Alert{}
		}
		return map[string]any{"alerts": list, "counts": counts}, nil
	}))
	mux.HandleFunc("GET /api/alerts/{id}", c.apiPage(func(r *request) (any, error) {
		a, err := c.alertFor(r)
		if err != nil {
			return nil, err
		}
		return c.loadAlertView(r, a)
	}))
	for _, action := range []string{"acknowledge", "explain", "close"} {
		mux.HandleFunc("POST /api/alerts/{id}/"+action, c.apiPage(func(r *request) (any, error) {
			var body struct {
				Comment string `json:"comment"`
			}
			r.Body = http.MaxBytesReader(r.w, r.Body, 64<<10)
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				return nil, refuse(http.StatusBadRequest, "want a JSON body {\"comment\": ...}")
			}
			a, err := c.alertFor(r)
			if err != nil {
				return nil, err
			}
			if err := c.act(r, a, action, body.Comment); err != nil {
				return nil, err
			}
			a, err = c.alertFor(r)
			if err != nil {
				return nil, err
			}
			return c.loadAlertView(r, a)
		}))
	}
	mux.HandleFunc("GET /api/recorders", c.apiPage(func(r *request) (any, error) {
		recs, _, err := c.fleetData(r)
		if recs == nil {
			recs = []recorderRow{}
		}
		return map[string]any{"recorders": recs}, err
	}))
	mux.HandleFunc("POST /api/docks/{dock}/slots/{slot}/power-cycle", c.apiPage(func(r *request) (any, error) {
		if err := c.powerCycle(r); err != nil {
			return nil, err
		}
		return map[string]any{"dock": r.PathValue("dock"), "slot": r.PathValue("slot"), "by": r.who.Name}, nil
	}))
	mux.HandleFunc("GET /api/compliance", c.apiPage(c.compliance))
	mux.HandleFunc("POST /api/recorders/{serial}/holes/release", c.apiPage(c.releaseHoles))
	mux.HandleFunc("GET /api/docks", c.apiPage(func(r *request) (any, error) {
		_, docks, err := c.fleetData(r)
		if docks == nil {
			docks = []dockRow{}
		}
		return map[string]any{"docks": docks}, err
	}))
}

// apiPage is page for JSON: browser sessions must send the CSRF token in
// X-CSRF-Token on POST (page checks the form field, which a JSON body has
// not, so it is copied over here).
func (c *Console) apiPage(h func(*request) (any, error)) http.HandlerFunc {
	inner := c.page(func(r *request) error {
		v, err := h(r)
		if err != nil {
			return err
		}
		writeJSON(r.w, http.StatusOK, v)
		return nil
	})
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			q := r.URL.Query()
			q.Set("csrf", r.Header.Get("X-CSRF-Token"))
			r.URL.RawQuery = q.Encode()
			r.Form = nil
		}
		inner(w, r)
	}
}
