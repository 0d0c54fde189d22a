package report

import (
	"errors"
	"fmt"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/cloud/wire"
)

// ErrUnexpected reports an inbound message that decoded but is not what its
// topic carries: another dock's, or another type.
var ErrUnexpected = errors.New("report: unexpected message")

// route is paho's default publish handler: every inbound message, including
// those the broker queued for the session before the subscriptions were
// renewed, comes here. The broker's PUBACK is sent only after the message
// was handled, so a message cut off by Run stopping is redelivered.
func (r *Reporter) route(_ paho.Client, m paho.Message) {
	if !r.gate.enter() {
		return // stopping: left unacknowledged for the next session
	}
	defer r.gate.leave()
	switch m.Topic() {
	case wire.AckTopic(r.cfg.Dock):
		if !r.handleAck(m) {
			return // outbox failed: let the broker redeliver the ack
		}
	case wire.CmdTopic(r.cfg.Dock):
		r.handleCmd(m)
	default:
		r.reject("message", fmt.Errorf("%w: topic %q", ErrUnexpected, m.Topic()))
	}
	m.Ack()
}

func (r *Reporter) reject(what string, err error) {
	r.rejected.Add(1)
	r.rejectLog.Do(func() { r.log.Warn(what+" rejected", "err", err, "rejected_total", r.rejected.Load()) })
}

func (r *Reporter) decode(m paho.Message, want string) (wire.Envelope, wire.Body, error) {
	e, err := wire.DecodeEnvelope(m.Payload())
	if err != nil {
		return e, nil, err
	}
	if e.Dock != r.cfg.Dock || e.Type != want {
		return e, nil, fmt.Errorf("%w: %s for dock %q on %s", ErrUnexpected, e.Type, e.Dock, m.Topic())
	}
	b, err := wire.DecodeBody(e)
	return e, b, err
}

// handleAck deletes the acknowledged entries from the outbox. It returns
// false only when the outbox failed, so the ack should come again.
func (r *Reporter) handleAck(m paho.Message) bool {
	_, b, err := r.decode(m, wire.TypeAck)
	if err != nil {
		r.reject("ack", err)
		return true
	}
	ack := b.(*wire.Ack)
	ids := ack.IDs
	for _, rf := range ack.Refused {
		// Refused for good: sending it again would be refused again. It
		// leaves the outbox with the acknowledged, counted and logged.
		r.refused.Add(1)
		r.log.Error("report refused by the collector; not sent again", "id", rf.ID, "reason", rf.Reason,
			"refused_total", r.refused.Load())
		ids = append(ids, rf.ID)
	}
	// r.mu is held across the outbox write so that publishPending, which
	// drops in-flight ids the outbox no longer holds, cannot take an id
	// between its deletion and its count here.
	r.mu.Lock()
	if err := r.box.Ack(ids...); err != nil {
		r.mu.Unlock()
		r.log.Error("outbox ack failed", "ids", len(ids), "err", err)
		return false
	}
	known := 0
	for _, id := range ids {
		r.gone[id] = struct{}{}
		if _, ok := r.inflight[id]; ok {
			delete(r.inflight, id)
			known++
		}
	}
	r.mu.Unlock()
	r.acked.Add(uint64(known))
	if n := len(ids) - known; n > 0 {
		r.unknownAcks.Add(uint64(n))
		r.log.Debug("ack for ids not in flight", "ids", n)
	}
	r.Kick()
	return true
}

func (r *Reporter) handleCmd(m paho.Message) {
	e, b, err := r.decode(m, wire.TypeCommand)
	if err != nil {
		r.reject("command", err)
		return
	}
	r.log.Info("command", "id", e.ID, "action", b.(*wire.Command).Action)
	if r.onCmd != nil {
		r.onCmd(e, b.(*wire.Command))
	}
}
