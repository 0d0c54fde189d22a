package report

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/agent/outbox"
	"github.com/berthdock/berth/cloud/wire"
)

// sent is one entry in flight: when it was last published and paho's token
// for that publish.
type sent struct {
	at  time.Time
	tok paho.Token
}

// publishPending publishes the outbox entries not in flight, in flight for
// longer than AckTimeout, or whose last publish failed. Entries no longer
// pending (acknowledged) leave the in-flight set: Pending always returns the
// oldest entries, so an in-flight id missing from it has left the outbox.
func (r *Reporter) publishPending(ctx context.Context, c paho.Client) {
	// An ack that lands while this pass runs must not have its entry
	// published again from the list read below: handleAck notes the ids.
	r.mu.Lock()
	clear(r.gone)
	r.mu.Unlock()
	msgs, err := r.box.Pending(r.cfg.Batch)
	if err != nil {
		r.readLog.Do(func() { r.log.Error("outbox read failed", "err", err) })
		return
	}
	now := r.cfg.Clock.Now()
	r.mu.Lock()
	if len(r.inflight) > 0 {
		keep := make(map[string]struct{}, len(msgs))
		for _, m := range msgs {
			keep[m.ID] = struct{}{}
		}
		for id := range r.inflight {
			if _, ok := keep[id]; !ok {
				delete(r.inflight, id)
			}
		}
	}
	r.mu.Unlock()
	for _, m := range msgs {
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		s, ok := r.inflight[m.ID]
		_, acked := r.gone[m.ID]
		due := !acked && (!ok || now.Sub(s.at) >= r.cfg.AckTimeout || failed(s.tok))
		if due {
			r.inflight[m.ID] = sent{at: now} // before publishing: the ack may beat Publish's return
		}
		r.mu.Unlock()
		if !due {
			continue
		}
		qos := m.QoS
		if qos == 0 {
			qos = 1 // a report is worth the broker's PUBACK even if its producer left QoS unset
		}
		t := c.Publish(m.Topic, qos, m.Retained, m.Payload) // queued by paho; the token is looked at next round
		r.mu.Lock()
		if s, ok := r.inflight[m.ID]; ok && s.at.Equal(now) {
			r.inflight[m.ID] = sent{at: now, tok: t}
		}
		r.mu.Unlock()
		r.published.Add(1)
	}
}

// failed reports whether a publish finished with an error (not connected,
// write timeout); such an entry is published again at once, not after
// AckTimeout.
func failed(t paho.Token) bool {
	if t == nil {
		return false
	}
	select {
	case <-t.Done():
		return t.Error() != nil
	default:
		return false
	}
}

// Encode wraps a body in an envelope as an outbox message for its topic.
func Encode(id, dock string, at time.Time, typ, topic string, retained bool, body any) (outbox.Message, error) {
	e, err := wire.NewEnvelope(id, dock, at, typ, body)
	if err != nil {
		return outbox.Message{}, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return outbox.Message{}, fmt.Errorf("report: encode: %w", err)
	}
	return outbox.Message{ID: id, Topic: topic, Payload: b, Retained: retained, QoS: 1}, nil
}
