package console

import (
	_ "embed"
	"encoding/json"
	"net/http"
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
		counts, exact, err := c.o.Store.AlertCountsUpTo(r.ctx, f, countsUpTo)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"alerts": nonNil(list), "counts": nonNil(counts), "counts_exact": exact}
		if next := nextOf(list, f.Limit); next != "" {
			out["next"] = next
		}
		return out, nil
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
		v, err := c.fleetView(r, true, false)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"recorders": nonNil(v.Recorders), "order": "pull-list"}
		if v.Paged {
			out["order"] = "serial"
		}
		if v.NextRecorder != "" {
			out["next"] = v.NextRecorder
		}
		return out, nil
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
		v, err := c.fleetView(r, false, true)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"docks": nonNil(v.Docks)}
		if v.NextDock != "" {
			out["next"] = v.NextDock
		}
		return out, nil
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

// nonNil lists none as [] in JSON, not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
