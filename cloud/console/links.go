package console

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/berthdock/berth/cloud/alert"
)

// alertLink answers the signed link an alert delivery carried (DingTalk,
// WeCom, a webhook): a good link sends the browser to the alert's page,
// which asks for a sign-in as any page does (the link shows nothing by
// itself); a forged, malformed or expired one gets a page saying so, and
// is counted and logged.
func (c *Console) alertLink(w http.ResponseWriter, r *http.Request) {
	req := c.anonymous(w, r)
	if c.o.Links == nil {
		c.linkRefused(req, http.StatusNotFound, "no-links", errors.New("alert links are not configured"))
		return
	}
	key, _, err := c.o.Links.Verify(r.URL.Query())
	switch {
	case errors.Is(err, alert.ErrLinkExpired):
		c.linkRefused(req, http.StatusGone, "link-expired", err)
		return
	case err != nil:
		c.linkRefused(req, http.StatusForbidden, "link-forged", err)
		return
	}
	a, ok, err := c.o.Store.AlertByKey(r.Context(), key)
	if err != nil {
		c.o.Log.Error("console: alert link", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	if !ok {
		c.linkRefused(req, http.StatusNotFound, "link-no-alert", fmt.Errorf("no alert %q", loggable(key)))
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/alerts/%d", a.ID), http.StatusSeeOther)
}

func (c *Console) linkRefused(r *request, code int, msg string, err error) {
	c.linksRefused.Add(1)
	c.o.Log.Info("console: alert link refused", "remote", r.RemoteAddr, "why", err)
	r.w.WriteHeader(code)
	c.render(r, "message", map[string]any{"Code": code, "Message": localizer{lang: r.lang}.T(msg)})
}

// LinksRefused counts alert links refused (forged, malformed, expired or
// naming no alert) since start.
func (c *Console) LinksRefused() int64 { return c.linksRefused.Load() }
