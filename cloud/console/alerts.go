package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
)

// ruleOf cites the rule of DESIGN.md an alert kind enforces, with its
// articles, in Chinese and English.
func ruleOf(kind string) [2]string {
	switch {
	case strings.HasPrefix(kind, "interruption-"), kind == "abnormal-no-resume":
		return [2]string{"规则2：中断后恢复录像时应当语音说明原因；无法恢复的，应当立即报告并事后书面说明（云和县住建局制度 第九条第一款、第六条）",
			"Rule 2: state the reason aloud on resuming; report at once and explain in writing when it cannot resume (R art. 9 ¶1, art. 6)"}
	case kind == "sequence-hole", kind == "sequence-reused", kind == "overlap", kind == "hash-mismatch":
		return [2]string{"规则3：原始音像记录不得剪接、删改（云和县住建局制度 第九条第二款、第十五条）",
			"Rule 3: originals are never cut, edited or deleted (R art. 9 ¶2, art. 15)"}
	case kind == "late-upload", kind == "upload-overdue", kind == "offload-due-soon":
		return [2]string{"规则1：24小时内存储至信息系统（云和县住建局制度 第十二条；龙泉市医保局制度 第七条）",
			"Rule 1: footage reaches storage within 24 h (R art. 12; L art. 7)"}
	case kind == "clock-drift":
		return [2]string{"规则8：音像记录时间应与案卷一致（云和县住建局制度 第八条）", "Rule 8: times in footage match the case documents (R art. 8)"}
	case !people.FootageRelated(kind):
		return [2]string{"规则7：装备管理员检查电池容量和存储空间，保持设备完好（云和县住建局制度 第十条；龙泉市医保局制度 第六条）",
			"Rule 7: the custodian checks battery capacity and storage space (R art. 10; L art. 6)"}
	}
	return [2]string{"", ""}
}

func (l localizer) Rule(kind string) string {
	r := ruleOf(kind)
	if l.lang == langEN {
		return r[1]
	}
	return r[0]
}

// inboxFilter reads the inbox's filters from the query, scoped to who.
func inboxFilter(r *request) (store.AlertFilter, error) {
	q := r.URL.Query()
	f := store.AlertFilter{State: q.Get("state"), Kind: q.Get("kind"), Severity: q.Get("severity"), Officer: q.Get("officer"),
		Serial: q.Get("serial"), Dock: q.Get("dock"), Unit: q.Get("unit"), Units: r.who.Scope(), BySeverity: true, Limit: inboxPage}
	if !q.Has("state") {
		f.State = store.AlertOpen
	}
	if f.State == "all" {
		f.State = ""
	}
	for name, dst := range map[string]*time.Time{"from": &f.Since, "to": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.ParseInLocation("2006-01-02", v, time.UTC)
			if err != nil {
				return f, refuse(http.StatusBadRequest, name+": want YYYY-MM-DD")
			}
			*dst = t
		}
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n <= 1000 {
		f.Limit = n
	}
	if v := q.Get("after"); v != "" {
		c, err := parseCursor(v)
		if err != nil {
			return f, err
		}
		f.After = c
	}
	return f, nil
}

// countsUpTo bounds the alerts the inbox counts by kind: beyond it (an
// admin's 60k open alerts) the counts are those of the most urgent
// countsUpTo, and the page and the API say so.
const countsUpTo = 10_000

// inboxPage is how many alerts one page of the inbox and of GET
// /api/alerts lists unless ?limit= asks otherwise (at most 1000); the next
// page continues after the last one listed (?after=, a keyset cursor).
const inboxPage = 100

// cursorOf is the ?after= value that continues a listing after a:
// severity, opening time (ns) and id.
func cursorOf(a store.Alert) string {
	return fmt.Sprintf("%s.%d.%d", a.Severity, a.OpenedAt.UnixNano(), a.ID)
}

func parseCursor(v string) (*store.AlertCursor, error) {
	bad := refuse(http.StatusBadRequest, "after: want the cursor of a listing's next link (severity.opened_ns.id)")
	parts := strings.Split(v, ".")
	if len(parts) != 3 || len(v) > 96 {
		return nil, bad
	}
	ns, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return nil, bad
	}
	return &store.AlertCursor{Severity: parts[0], Opened: time.Unix(0, ns), ID: id}, nil
}

// nextOf is the cursor of the page after list ("" when list is the last).
func nextOf(list []store.Alert, limit int) string {
	if len(list) < limit || len(list) == 0 {
		return ""
	}
	return cursorOf(list[len(list)-1])
}

func (c *Console) inbox(r *request) error {
	if !r.who.CanSeeAlerts() {
		return refuse(http.StatusForbidden, "role "+r.who.Role+" has no alert inbox")
	}
	f, err := inboxFilter(r)
	if err != nil {
		return err
	}
	// Dates are the agency's days.
	if !f.Since.IsZero() {
		f.Since = dayIn(f.Since, c.o.Location)
	}
	if !f.Until.IsZero() {
		f.Until = dayIn(f.Until, c.o.Location).AddDate(0, 0, 1)
	}
	list, err := c.o.Store.Alerts(r.ctx, f)
	if err != nil {
		return err
	}
	counts, exact, err := c.o.Store.AlertCountsUpTo(r.ctx, store.AlertFilter{State: f.State, Units: f.Units}, countsUpTo)
	if err != nil {
		return err
	}
	next, first := "", ""
	if cur := nextOf(list, f.Limit); cur != "" {
		q := r.URL.Query()
		q.Set("after", cur)
		next = "/inbox?" + q.Encode()
	}
	if f.After != nil {
		q := r.URL.Query()
		q.Del("after")
		first = "/inbox?" + q.Encode()
	}
	c.render(r, "inbox", map[string]any{"Alerts": list, "Counts": counts, "Q": r.URL.Query(), "State": f.State,
		"Kinds": kindsOf(counts), "Next": next, "First": first, "Exact": exact, "UpTo": countsUpTo})
	return nil
}

func dayIn(t time.Time, loc *time.Location) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

func kindsOf(cs []store.AlertCount) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range cs {
		if !seen[c.Kind] {
			seen[c.Kind] = true
			out = append(out, c.Kind)
		}
	}
	return out
}

// alertFor loads alert {id} if the caller may see it.
func (c *Console) alertFor(r *request) (store.Alert, error) {
	if !r.who.CanSeeAlerts() {
		return store.Alert{}, refuse(http.StatusForbidden, "role "+r.who.Role+" has no alert inbox")
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return store.Alert{}, refuse(http.StatusBadRequest, "not an alert id")
	}
	a, ok, err := c.o.Store.AlertByID(r.ctx, id)
	if err != nil {
		return a, err
	}
	// An alert outside the caller's units is as if it did not exist.
	if !ok || !r.who.InScope(a.Unit) {
		return a, refuse(http.StatusNotFound, fmt.Sprintf("no alert %d", id))
	}
	return a, nil
}

// alertView is what the alert page and GET /api/alerts/{id} show.
type alertView struct {
	Alert    store.Alert        `json:"alert"`
	Evidence alert.Evidence     `json:"evidence"`
	History  []store.AlertEvent `json:"history"`
	Rule     string             `json:"rule,omitempty"`
	// Footage is whether the segment is in the evidence store and the
	// caller may view it; ClipURL plays it from the opening window.
	Footage  bool     `json:"footage"`
	ClipURL  string   `json:"clip_url,omitempty"`
	Can      []string `json:"can"` // the actions the caller may take
	Timeline *dayView `json:"-"`
}

func (c *Console) loadAlertView(r *request, a store.Alert) (alertView, error) {
	v := alertView{Alert: a, Rule: ruleOf(a.Kind)[1], Can: []string{}}
	if len(a.Evidence) > 0 {
		if err := json.Unmarshal(a.Evidence, &v.Evidence); err != nil {
			c.o.Log.Warn("console: alert evidence is not the alert model's", "alert", a.ID, "err", err)
		}
	}
	var err error
	if v.History, err = c.o.Store.AlertHistory(r.ctx, a.ID); err != nil {
		return v, err
	}
	for _, act := range []string{store.ActionAcknowledge, store.ActionExplain, store.ActionClose} {
		if ok, _ := r.who.CanAct(a, act); ok {
			v.Can = append(v.Can, act)
		}
	}
	if a.Serial != "" && a.Seq > 0 && r.who.CanViewFootage() {
		// The footage's unit decides, not the alert's (footageFor).
		seg, err := c.footageFor(r, a.Serial, a.Seq)
		var he *httpError
		switch {
		case errors.As(err, &he):
		case err != nil:
			return v, err
		case seg.Object != "":
			v.Footage = true
			v.ClipURL = fmt.Sprintf("/alerts/%d/clip#t=0,%d", a.ID, int(c.o.OpeningWindow/time.Second))
		}
	}
	return v, nil
}

func (v alertView) CanDo(action string) bool {
	for _, a := range v.Can {
		if a == action {
			return true
		}
	}
	return false
}

func (c *Console) alertPage(r *request) error {
	a, err := c.alertFor(r)
	if err != nil {
		return err
	}
	v, err := c.loadAlertView(r, a)
	if err != nil {
		return err
	}
	if a.Serial != "" {
		if v.Timeline, err = c.day(r, a, v.Evidence); err != nil {
			return err
		}
	}
	c.render(r, "alert", map[string]any{"V": v, "A": a, "E": v.Evidence, "CanViewFootage": r.who.CanViewFootage(),
		"HasSegment": a.Serial != "" && a.Seq > 0})
	return nil
}

// act applies action to a for the caller; the store appends it to the
// alert's history with who did it.
func (c *Console) act(r *request, a store.Alert, action, comment string) error {
	if ok, why := r.who.CanAct(a, action); !ok {
		return refuse(http.StatusForbidden, why)
	}
	comment = strings.TrimSpace(comment)
	if action == store.ActionAcknowledge && comment == "" {
		return refuse(http.StatusBadRequest, "an acknowledgement needs the written explanation")
	}
	err := c.o.Store.ActOnAlert(r.ctx, a.ID, store.AlertEvent{By: r.who.Name, Role: r.who.Role, Action: action, Comment: comment})
	if err == nil {
		c.o.Log.Info("console: alert action", "alert", a.ID, "action", action, "by", r.who.Name, "role", r.who.Role)
	}
	return err
}

func (c *Console) alertAct(r *request) error {
	r.Body = http.MaxBytesReader(r.w, r.Body, 64<<10)
	a, err := c.alertFor(r)
	if err != nil {
		return err
	}
	if err := c.act(r, a, r.FormValue("action"), r.FormValue("comment")); err != nil {
		return err
	}
	http.Redirect(r.w, r.Request, fmt.Sprintf("/alerts/%d#history", a.ID), http.StatusSeeOther)
	return nil
}

// clip serves the alert's segment to a supervisor of its unit, with range
// requests (serveFootage).
func (c *Console) clip(r *request) error {
	a, err := c.alertFor(r)
	if err != nil {
		return err
	}
	if a.Serial == "" || a.Seq == 0 {
		return refuse(http.StatusNotFound, "this alert names no segment")
	}
	return c.serveFootage(r, a.Serial, a.Seq, fmt.Sprintf("alert %d", a.ID))
}

// serveFootage serves segment serial/seq to a person who may view footage
// of its unit (footageFor: the footage's own unit, whatever page it is
// played from: an alert is sent to a unit, which need not be the unit
// its segment belongs to), with range requests, each one written to the
// footage access log before a byte leaves; refusals of signed-in people
// are logged too. why names the page it was played from (an alert, an
// evidence search).
func (c *Console) serveFootage(r *request, serial string, seq uint64, why string) error {
	rec := store.FootageAccess{Viewer: r.who.Name, Role: r.who.Role, Action: "view", Remote: loggable(r.RemoteAddr)}
	deny := func(code int, msg string) error {
		rec.Reason = fmt.Sprintf("%s: %s", why, msg)
		if err := c.o.Store.RecordAccess(r.ctx, rec); err != nil {
			return err
		}
		return refuse(code, msg)
	}
	if !r.who.CanViewFootage() {
		return deny(http.StatusForbidden, "role "+r.who.Role+" may not view footage (rule 6)")
	}
	rc, ok, err := c.o.Store.Receipt(r.ctx, serial, seq)
	if err != nil {
		return err
	}
	if !ok {
		return refuse(http.StatusNotFound, "the segment is not in the evidence store yet")
	}
	rec.ObjectID = rc.ObjectID
	if _, err := c.footageFor(r, serial, seq); err != nil {
		var he *httpError
		if errors.As(err, &he) {
			return deny(he.code, he.msg)
		}
		return err
	}
	obj, err := c.o.Footage.Stat(r.ctx, rc.ObjectID)
	if err != nil {
		if errors.Is(err, evidence.ErrNotFound) {
			return deny(http.StatusNotFound, "receipted object missing from the evidence store")
		}
		return err
	}
	body, err := c.o.Footage.Open(r.ctx, rc.ObjectID)
	if err != nil {
		return err
	}
	defer body.Close()
	rec.Granted = true
	rec.Reason = fmt.Sprintf("%s: %s #%d %s", why, serial, seq, loggable(r.Header.Get("Range")))
	if err := c.o.Store.RecordAccess(r.ctx, rec); err != nil {
		return refuse(http.StatusServiceUnavailable, "access log unavailable: footage not served")
	}
	r.w.Header().Set("Content-Type", "video/mp4")
	r.w.Header().Set("Cache-Control", "no-store")
	r.w.Header().Set("X-Content-SHA256", obj.SHA256)
	http.ServeContent(r.w, r.Request, rc.ObjectID+".mp4", obj.StoredAt, body)
	return nil
}
