package slot

import (
	"context"
	"errors"
	"fmt"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// readEvents reads the recorder's event log (DockLink §10) from where the
// last docking here stopped, reports it (the outbox makes it durable) and
// only then moves the recorder's cursor in the buffer: a crash in between
// reads the same events again at the next docking, which the collector
// folds by index. The log is evidence of why recordings stopped, not
// footage: a failure is logged and audited, never a slot fault, and the
// copy goes on.
func (s *Slot) readEvents(ctx context.Context, c *docklink.Client, d *docking) {
	serial := d.info.Serial
	cur, err := s.buf.EventCursor(serial)
	if err != nil {
		s.log.Error("event log cursor unreadable; reading the whole log", "serial", serial, "err", err)
		cur = buffer.EventCursor{}
	}
	evs, reset, err := eventsSince(ctx, c, cur)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		var de *docklink.Error
		if errors.As(err, &de) && de.Code == docklink.CodeUnsupported {
			s.log.Info("recorder offers no event log", "serial", serial)
			return
		}
		s.log.Warn("event log not read", "serial", serial, "after", cur.Index, "err", err)
		s.rep.Audit(wire.AuditEventsFailed, s.cfg.Index, serial, 0, fmt.Sprintf("after index %d: %v", cur.Index, err))
		return
	}
	if reset {
		s.log.Warn("recorder's event log was reset; reading it from the start", "serial", serial, "cursor", cur.Index)
		s.rep.Audit(wire.AuditEventsReset, s.cfg.Index, serial, 0,
			fmt.Sprintf("event %d of %s no longer in the log; read from the start", cur.Index, cur.Time.UTC().Format("2006-01-02T15:04:05.999999999Z")))
	}
	for len(evs) > 0 {
		part := evs[:min(len(evs), wire.MaxEventsPart)]
		evs = evs[len(part):]
		body := wire.RecorderEvents{Serial: serial, DockedAt: d.at, Events: make([]wire.RecorderEvent, len(part))}
		for i, e := range part {
			body.Events[i] = wire.RecorderEvent{Index: e.Index, Time: e.Time.UTC(), Kind: eventKind(e.Kind), Seq: e.Seq,
				Detail: e.Detail}
		}
		if err := body.Validate(); err != nil {
			// The recorder's own words broke a rule of the wire (its
			// decoder holds §10.3): keep the cursor, say so.
			s.log.Error("event log not reported", "serial", serial, "err", err)
			return
		}
		s.rep.Events(body)
		last := part[len(part)-1]
		if err := s.buf.SetEventCursor(serial, buffer.EventCursor{Index: last.Index, Time: last.Time.UTC()}); err != nil {
			s.log.Error("event log cursor not saved; the next docking reads these again", "serial", serial, "err", err)
			return
		}
	}
}

// eventsSince reads the events after cur. A cursor the log no longer
// holds at its index (the recorder restarted its numbering: a new log is
// shorter, or holds another event under that number) means a reset: the
// whole log is read.
func eventsSince(ctx context.Context, c *docklink.Client, cur buffer.EventCursor) (evs []docklink.Event, reset bool, err error) {
	if cur.Index == 0 {
		evs, err = c.EventsAfter(ctx, 0)
		return evs, false, err
	}
	evs, err = c.EventsAfter(ctx, cur.Index-1)
	if err != nil {
		return nil, false, err
	}
	switch {
	case len(evs) > 0 && evs[0].Index == cur.Index && evs[0].Time.Equal(cur.Time):
		return evs[1:], false, nil // the cursor's own event, then what is new
	case len(evs) > 0 && evs[0].Index > cur.Index:
		return evs, false, nil // the recorder dropped old events, ours among them
	}
	evs, err = c.EventsAfter(ctx, 0)
	return evs, true, err
}

// eventKind is the wire word for a DockLink event kind.
func eventKind(k docklink.EventKind) string {
	if s := k.String(); k.Valid() && wire.ValidEventKind(s) {
		return s
	}
	return wire.EventUnknown
}
