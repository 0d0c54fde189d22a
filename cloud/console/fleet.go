package console

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/berthdock/berth/cloud/health"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// recorderRow is one recorder of the fleet with the findings that make it
// due for maintenance.
type recorderRow struct {
	store.Device
	Findings []health.Finding `json:"findings"`
	Critical bool             `json:"critical"`
}

// SlotName names a slot as the board does: A, B, C... for 0, 1, 2...
// (the board files name their slots so; DockLink and MQTT carry the index).
func SlotName(i int) string {
	if i >= 0 && i < 26 {
		return string(rune('A' + i))
	}
	return strconv.Itoa(i + 1)
}

// dockRow is one dock with its slots and its online state.
type dockRow struct {
	store.Dock
	Online bool         `json:"online"`
	Slots  []store.Slot `json:"slots"`
}

// fleetScope is the units the fleet shows: the caller's scope, or the
// one unit of ?unit= within it.
func fleetScope(r *request) ([]string, error) {
	if !r.who.CanSeeFleet() {
		return nil, refuse(http.StatusForbidden, "role "+r.who.Role+" has no fleet view")
	}
	u := r.URL.Query().Get("unit")
	if u == "" {
		return r.who.Scope(), nil
	}
	if !r.who.InScope(u) {
		return nil, refuse(http.StatusNotFound, "no unit "+u+" in your units")
	}
	return []string{u}, nil
}

// judge gives each recorder the findings of the fleet policy.
func (c *Console) judge(r *request, devs []store.Device) []recorderRow {
	recs := make([]recorderRow, 0, len(devs))
	for _, d := range devs {
		if !r.who.InScope(d.Unit) {
			continue
		}
		row := recorderRow{Device: d, Findings: health.Device(d.Health, c.o.Health)}
		for _, f := range row.Findings {
			row.Critical = row.Critical || f.Severity == "critical"
		}
		recs = append(recs, row)
	}
	return recs
}

// batteryPct is the battery's health as the fleet ranks it: the dock's
// measurement of design capacity where there is one and it is the worse,
// else what the recorder claims. A recorder that claims 95% while the dock
// measured 60% is a 60% battery on the pull list.
func batteryPct(b wire.Battery) int {
	if m := b.Measured; m != nil && m.Pct > 0 && m.Pct < b.HealthPct {
		return m.Pct
	}
	return b.HealthPct
}

// sortPull puts the recorders due for maintenance first (critical first,
// then the most worn battery, claimed or measured), then the rest by
// serial.
func sortPull(recs []recorderRow) {
	slices.SortStableFunc(recs, func(a, b recorderRow) int {
		if c := cmp.Compare(boolInt(len(b.Findings) > 0), boolInt(len(a.Findings) > 0)); c != 0 {
			return c
		}
		if c := -cmp.Compare(boolInt(a.Critical), boolInt(b.Critical)); c != 0 {
			return c
		}
		if len(a.Findings) > 0 {
			if c := cmp.Compare(batteryPct(a.Health.Battery), batteryPct(b.Health.Battery)); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.Serial, b.Serial)
	})
}

// dockRows joins docks with their slots and online state.
func (c *Console) dockRows(r *request, ds []store.Dock, slots []store.Slot) []dockRow {
	byDock := map[string][]store.Slot{}
	for _, s := range slots {
		byDock[s.Dock] = append(byDock[s.Dock], s)
	}
	now := c.o.Clock.Now()
	docks := make([]dockRow, 0, len(ds))
	for _, d := range ds {
		if !r.who.InScope(d.Unit) {
			continue
		}
		row := dockRow{Dock: d, Slots: byDock[d.ID], Online: d.State.State == wire.DockOnline && now.Sub(d.LastSeen) < c.o.OfflineAfter}
		if row.Slots == nil {
			row.Slots = []store.Slot{}
		}
		docks = append(docks, row)
	}
	return docks
}

// fleetData is the whole fleet in the caller's scope (or the unit of
// ?unit=): recorders due for maintenance first, then the rest by serial;
// docks by id. The CSV exports take it whole, whatever its size.
func (c *Console) fleetData(r *request) ([]recorderRow, []dockRow, error) {
	scope, err := fleetScope(r)
	if err != nil {
		return nil, nil, err
	}
	devs, err := c.o.Store.DevicesIn(r.ctx, scope)
	if err != nil {
		return nil, nil, err
	}
	recs := c.judge(r, devs)
	sortPull(recs)
	ds, err := c.o.Store.DocksIn(r.ctx, scope)
	if err != nil {
		return nil, nil, err
	}
	slots, err := c.o.Store.SlotsIn(r.ctx, scope)
	if err != nil {
		return nil, nil, err
	}
	return recs, c.dockRows(r, ds, slots), nil
}

// A fleet view judges at most fleetWhole recorders on a request (the
// Console's fleetWhole, this by default): a larger scope (an admin's 100k
// recorders) is listed fleetPage at a time, in serial and dock id order
// (?after=, ?after_dock= continue it), and its pull list is judged one
// unit at a time (?unit=).
const (
	fleetWhole = 2000
	fleetPage  = 100
)

// fleetView is what the fleet page and the API lists show.
type fleetView struct {
	Recorders []recorderRow
	Docks     []dockRow
	// Paged: the lists are one page in serial and id order, not the
	// whole pull list; NextRecorder and NextDock continue them ("" at
	// the end).
	Paged                  bool
	NextRecorder, NextDock string
}

// fleetView lists the caller's fleet (the recorders if recs, the docks
// if docks): whole and in pull-list order when the scope is small enough,
// else one page.
func (c *Console) fleetView(r *request, recs, docks bool) (fleetView, error) {
	var v fleetView
	scope, err := fleetScope(r)
	if err != nil {
		return v, err
	}
	q := r.URL.Query()
	limit := fleetPage
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n <= 1000 {
		limit = n
	}
	v.Paged = q.Has("after") || q.Has("after_dock")
	if !v.Paged {
		n, err := c.o.Store.CountDevicesUpTo(r.ctx, scope, c.fleetWhole+1)
		if err != nil {
			return v, err
		}
		v.Paged = n > c.fleetWhole
	}
	if !v.Paged {
		if recs {
			devs, err := c.o.Store.DevicesIn(r.ctx, scope)
			if err != nil {
				return v, err
			}
			v.Recorders = c.judge(r, devs)
			sortPull(v.Recorders)
		}
		if docks {
			ds, err := c.o.Store.DocksIn(r.ctx, scope)
			if err != nil {
				return v, err
			}
			slots, err := c.o.Store.SlotsIn(r.ctx, scope)
			if err != nil {
				return v, err
			}
			v.Docks = c.dockRows(r, ds, slots)
		}
		return v, nil
	}
	if recs {
		devs, err := c.o.Store.DevicesPage(r.ctx, scope, q.Get("after"), limit)
		if err != nil {
			return v, err
		}
		if len(devs) == limit {
			v.NextRecorder = devs[len(devs)-1].Serial
		}
		v.Recorders = c.judge(r, devs)
	}
	if docks {
		ds, err := c.o.Store.DocksPage(r.ctx, scope, q.Get("after_dock"), limit)
		if err != nil {
			return v, err
		}
		ids := make([]string, len(ds))
		for i, d := range ds {
			ids[i] = d.ID
		}
		slots, err := c.o.Store.SlotsOfDocks(r.ctx, ids)
		if err != nil {
			return v, err
		}
		if len(ds) == limit {
			v.NextDock = ds[len(ds)-1].ID
		}
		v.Docks = c.dockRows(r, ds, slots)
	}
	return v, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c *Console) fleet(r *request) error {
	q := r.URL.Query()
	v, err := c.fleetView(r, true, false)
	if err != nil {
		return err
	}
	// A paged fleet of every unit opens on its units and recorders; its
	// docks are a page of their own (?after_dock=), one click away, so
	// that the overview stays light.
	docksLink := ""
	if v.Paged && q.Get("unit") == "" && !q.Has("after_dock") {
		docksLink = "/fleet?" + url.Values{"after_dock": {""}}.Encode() + "#docks"
	} else {
		d, err := c.fleetView(r, false, true)
		if err != nil {
			return err
		}
		v.Docks, v.NextDock = d.Docks, d.NextDock
	}
	pull := 0
	for _, x := range v.Recorders {
		if len(x.Findings) > 0 {
			pull++
		}
	}
	data := map[string]any{"Recorders": v.Recorders, "Docks": v.Docks, "Pull": pull, "Now": c.o.Clock.Now(),
		"CanCommand": c.o.Commands != nil, "Paged": v.Paged, "Unit": r.URL.Query().Get("unit"), "CSV": "", "More": "", "MoreDocks": "",
		"DocksLink": docksLink}
	if u := q.Get("unit"); u != "" {
		data["CSV"] = "?unit=" + url.QueryEscape(u)
	}
	if v.NextRecorder != "" {
		m := url.Values{"after": {v.NextRecorder}, "after_dock": {q.Get("after_dock")}, "unit": {q.Get("unit")}}
		data["More"] = "/fleet?" + m.Encode()
	}
	if v.NextDock != "" {
		m := url.Values{"after_dock": {v.NextDock}, "after": {q.Get("after")}, "unit": {q.Get("unit")}}
		data["MoreDocks"] = "/fleet?" + m.Encode() + "#docks"
	}
	if v.Paged && q.Get("unit") == "" {
		scope, _ := fleetScope(r)
		units, err := c.o.Store.FleetUnits(r.ctx, scope)
		if err != nil {
			return err
		}
		data["Units"] = units
	}
	c.render(r, "fleet", data)
	return nil
}

func (c *Console) csvOut(r *request, name string, rows [][]string) error {
	r.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	r.w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	r.w.Header().Set("Cache-Control", "no-store")
	r.w.Write([]byte("\xEF\xBB\xBF")) // a BOM: Excel opens UTF-8 Chinese correctly
	w := csv.NewWriter(r.w)
	w.WriteAll(rows)
	return w.Error()
}

func (c *Console) recordersCSV(r *request) error {
	recs, _, err := c.fleetData(r)
	if err != nil {
		return err
	}
	rows := [][]string{{"serial", "unit", "officer", "model", "firmware", "battery_health_pct", "battery_measured_mah",
		"battery_measured_pct", "battery_measured_at", "battery_cycles", "battery_temp_c", "storage_health_pct", "storage_free_bytes", "storage_total_bytes", "read_errors", "write_errors", "bad_blocks",
		"clock_offset_ms", "last_docked", "last_dock", "last_slot", "findings"}}
	for _, x := range recs {
		h := x.Health
		var fs string
		for i, f := range x.Findings {
			if i > 0 {
				fs += "; "
			}
			fs += f.Kind + ": " + f.Detail
		}
		// The dock's measurement, empty where no full charge was measured
		// (pct empty too where the dock does not know the model's design).
		var mah, mpct, mat string
		if m := h.Battery.Measured; m != nil {
			mah, mat = strconv.Itoa(m.MilliAmpHours), m.At.In(c.o.Location).Format(time.RFC3339)
			if m.Pct > 0 {
				mpct = strconv.Itoa(m.Pct)
			}
		}
		rows = append(rows, []string{x.Serial, x.Unit, x.Officer, x.Model, x.Firmware, strconv.Itoa(h.Battery.HealthPct),
			mah, mpct, mat, strconv.Itoa(h.Battery.Cycles), fmt.Sprintf("%.1f", h.Battery.TemperatureC), strconv.Itoa(h.Storage.HealthPct),
			strconv.FormatInt(h.Storage.FreeBytes, 10), strconv.FormatInt(h.Storage.TotalBytes, 10),
			strconv.FormatInt(h.Storage.ReadErrors, 10), strconv.FormatInt(h.Storage.WriteErrors, 10),
			strconv.FormatInt(h.Storage.BadBlocks, 10), strconv.FormatInt(h.ClockOffsetMs, 10),
			x.LastDockedAt.In(c.o.Location).Format(time.RFC3339), x.LastDock, SlotName(h.Slot), fs})
	}
	return c.csvOut(r, "recorders.csv", rows)
}

func (c *Console) docksCSV(r *request) error {
	_, docks, err := c.fleetData(r)
	if err != nil {
		return err
	}
	rows := [][]string{{"dock", "unit", "online", "last_seen", "version", "buffer_bytes", "buffer_capacity", "backlog_segments",
		"backlog_bytes", "oldest_backlog", "slots"}}
	for _, d := range docks {
		var sl string
		for i, s := range d.Slots {
			if i > 0 {
				sl += "; "
			}
			sl += SlotName(s.State.Slot) + ":" + s.State.State
			if s.State.Serial != "" {
				sl += " " + s.State.Serial
			}
		}
		oldest := ""
		if !d.State.OldestBacklog.IsZero() {
			oldest = d.State.OldestBacklog.In(c.o.Location).Format(time.RFC3339)
		}
		rows = append(rows, []string{d.ID, d.Unit, strconv.FormatBool(d.Online), d.LastSeen.In(c.o.Location).Format(time.RFC3339),
			d.State.Version, strconv.FormatInt(d.State.BufferBytes, 10), strconv.FormatInt(d.State.BufferCapacity, 10),
			strconv.Itoa(d.State.BacklogSegments), strconv.FormatInt(d.State.BacklogBytes, 10), oldest, sl})
	}
	return c.csvOut(r, "docks.csv", rows)
}

// powerCycle sends a power-cycle of slot {slot} of dock {dock} for a
// person who maintains the dock's unit's equipment; the command carries
// who issued it (from the sign-in, never from the request) into the
// dock's audit log.
func (c *Console) powerCycle(r *request) error {
	if c.o.Commands == nil {
		return refuse(http.StatusNotImplemented, "this console sends no commands to docks")
	}
	if !r.who.CanSeeFleet() {
		return refuse(http.StatusForbidden, "role "+r.who.Role+" maintains no equipment")
	}
	dockID := r.PathValue("dock")
	slot, err := strconv.Atoi(r.PathValue("slot"))
	if err != nil || slot < 0 || slot > 255 {
		return refuse(http.StatusBadRequest, "not a slot number")
	}
	docks, err := c.o.Store.DocksIn(r.ctx, r.who.Scope())
	if err != nil {
		return err
	}
	found := false
	for _, d := range docks {
		found = found || d.ID == dockID
	}
	if !found {
		return refuse(http.StatusNotFound, "no dock "+dockID+" in your units")
	}
	id, err := c.o.Commands.SendCommand(r.ctx, dockID, wire.Command{Action: wire.CmdPowerCycle, Slot: slot, By: r.who.Name})
	if err != nil {
		return err
	}
	c.o.Log.Info("console: power-cycle", "dock", dockID, "slot", SlotName(slot), "by", r.who.Name, "role", r.who.Role, "msg", id)
	return nil
}
