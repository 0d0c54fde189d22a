package console

import (
	"errors"
	"net/http"

	"github.com/berthdock/berth/cloud/compliance"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// compliance answers GET /api/compliance?unit=U&week=2026-W48: the week's
// statistics of the recording rules per officer of the unit and the
// unit's total (package compliance; what `collector report` prints), for
// the unit's supervisors and admins.
func (c *Console) compliance(r *request) (any, error) {
	if r.who.Role != people.RoleSupervisor && r.who.Role != people.RoleAdmin {
		return nil, refuse(http.StatusForbidden, "role "+r.who.Role+" sees no compliance statistics")
	}
	unit, week := r.URL.Query().Get("unit"), r.URL.Query().Get("week")
	if unit == "" || week == "" {
		return nil, refuse(http.StatusBadRequest, "want ?unit=U&week=YYYY-Www")
	}
	if !r.who.InScope(unit) {
		return nil, refuse(http.StatusNotFound, "no unit "+unit+" among yours")
	}
	rows, err := compliance.Report(r.ctx, c.o.Store, rules.DefaultPolicy(), unit, week)
	if errors.Is(err, compliance.ErrWeek) {
		return nil, refuse(http.StatusBadRequest, err.Error())
	}
	if err != nil {
		return nil, err
	}
	if rows == nil {
		rows = []compliance.Row{}
	}
	return map[string]any{"unit": unit, "week": week, "rows": rows}, nil
}
