package console

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// releaseHoles answers POST /api/recorders/{serial}/holes/release with
// {"reason": ...}: a supervisor of the recorder's unit decides that its
// receipted segments may be released around its standing sequence holes.
// The decision is recorded (who, why, each hole's alert history) and sent
// to the dock that last docked the recorder, which still releases only
// segments with a verified receipt.
func (c *Console) releaseHoles(r *request) (any, error) {
	if c.o.Commands == nil {
		return nil, refuse(http.StatusNotImplemented, "this console sends no commands to docks")
	}
	if r.who.Role != people.RoleSupervisor {
		return nil, refuse(http.StatusForbidden, "only a supervisor decides to release around a hole")
	}
	var body struct {
		Reason string `json:"reason"`
	}
	r.Body = http.MaxBytesReader(r.w, r.Body, 64<<10)
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || strings.TrimSpace(body.Reason) == "" {
		return nil, refuse(http.StatusBadRequest, "want a JSON body {\"reason\": ...} with the reason")
	}
	serial := r.PathValue("serial")
	devs, err := c.o.Store.DevicesIn(r.ctx, r.who.Scope())
	if err != nil {
		return nil, err
	}
	var dev *store.Device
	for i := range devs {
		if devs[i].Serial == serial {
			dev = &devs[i]
		}
	}
	if dev == nil {
		return nil, refuse(http.StatusNotFound, "no recorder "+serial+" in your units")
	}
	if dev.LastDock == "" {
		return nil, refuse(http.StatusConflict, "recorder "+serial+" has not docked: no dock to tell")
	}
	decided, err := c.o.Store.ReleaseHoles(r.ctx, store.Actor{Name: r.who.Name, Role: r.who.Role}, serial, body.Reason)
	if err != nil {
		return nil, err
	}
	var sent []string
	for _, d := range decided {
		id, err := c.o.Commands.SendCommand(r.ctx, dev.LastDock, wire.Command{Action: wire.CmdReleaseHole, Serial: serial,
			From: d.From, To: d.To, By: r.who.Name, Reason: body.Reason})
		if err != nil {
			return nil, err // recorded; sending again repeats the decision, harmlessly
		}
		sent = append(sent, id)
	}
	c.o.Log.Info("console: hole release", "serial", serial, "holes", len(decided), "dock", dev.LastDock, "by", r.who.Name)
	return map[string]any{"serial": serial, "dock": dev.LastDock, "decisions": decided, "commands": sent, "by": r.who.Name}, nil
}
