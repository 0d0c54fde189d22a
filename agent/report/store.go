package report

import (
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// copyStore is paho's memory store, except that Get hands out a copy of a
// stored PUBLISH. On reconnect paho's resume sets the DUP flag on the packet
// it gets from the store while the new connection may be writing that very
// packet (a publish made just after the reconnect that reused a freed
// message id): a data race in paho itself (eclipse-paho/paho.mqtt.golang
// issue #703, open for v1.5). Resume then flags and resends its own copy.
// Durability does not rest on this store: the outbox is the durable copy,
// and everything unacknowledged is published again after a reconnect.
type copyStore struct{ paho.Store }

func newCopyStore() copyStore { return copyStore{paho.NewMemoryStore()} }

func (s copyStore) Get(key string) packets.ControlPacket {
	p := s.Store.Get(key)
	if pub, ok := p.(*packets.PublishPacket); ok && pub != nil {
		c := *pub
		return &c
	}
	return p
}
