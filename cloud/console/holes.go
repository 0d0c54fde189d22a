package console

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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
// at once (DeliverHoleReleases) to the dock that last docked the recorder,
// which keeps it and still releases only segments with a verified
// receipt; the collector's courier sends it again wherever the recorder
// docks next.
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
	sent, err := DeliverHoleReleases(r.ctx, c.o.Store, c.o.Commands, c.o.Log)
	if err != nil {
		return nil, err // recorded; the courier sends it on its next round
	}
	c.o.Log.Info("console: hole release", "serial", serial, "holes", len(decided), "dock", dev.LastDock, "by", r.who.Name)
	return map[string]any{"serial": serial, "dock": dev.LastDock, "decisions": decided, "commands": sent, "by": r.who.Name}, nil
}

// DeliverHoleReleases sends every hole-release decision to the dock that
// last docked its recorder, unless it was sent there already (a recorder
// that docks at another dock gets its decisions there too), and records
// each delivery. It returns the command IDs sent. Two collectors may both
// send one decision: the dock keeps each decided range once.
func DeliverHoleReleases(ctx context.Context, st *store.Store, cmds Commands, log *slog.Logger) ([]string, error) {
	due, err := st.UndeliveredHoleReleases(ctx, 1000)
	if err != nil {
		return nil, err
	}
	var sent []string
	for _, d := range due {
		id, err := cmds.SendCommand(ctx, d.Dock, wire.Command{Action: wire.CmdReleaseHole, Serial: d.Serial,
			From: d.From, To: d.To, By: d.By, Reason: d.Reason})
		if err != nil {
			return sent, fmt.Errorf("console: hole release %d to %s: %w", d.ID, d.Dock, err)
		}
		if err := st.HoleReleaseDelivered(ctx, d.ID, d.Dock); err != nil {
			return sent, err
		}
		log.Info("hole-release decision sent", "serial", d.Serial, "from", d.From, "to", d.To, "dock", d.Dock, "command", id)
		sent = append(sent, id)
	}
	return sent, nil
}
