package alert

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/berthdock/berth/cloud/wire"
)

// Publisher is the part of an MQTT client a delivery needs; the collector's
// ingest (ingest.Ingest.Publish) is one.
type Publisher interface {
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
}

// MQTT delivers alerts to berth/v1/alerts/{unit}/{kind} at QoS 1, for the
// supervisors' apps of that unit.
type MQTT struct {
	Pub Publisher
}

// Deliver publishes one alert as JSON.
func (m *MQTT) Deliver(ctx context.Context, a Alert) error {
	if err := wire.ValidID(a.Unit); err != nil {
		return fmt.Errorf("%w: unit: %w", ErrInvalid, err)
	}
	if err := wire.ValidID(a.Kind); err != nil {
		return fmt.Errorf("%w: kind: %w", ErrInvalid, err)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("alert: encode: %w", err)
	}
	if err := m.Pub.Publish(ctx, wire.AlertTopic(a.Unit, a.Kind), 1, false, b); err != nil {
		return fmt.Errorf("%w: mqtt: %w", ErrDelivery, err)
	}
	return nil
}
