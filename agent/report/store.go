package report

import (
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// copyStore is paho's memory store, except that it keeps a copy of each
// PUBLISH put in it and hands out a copy of it on Get, so that the packet
// in the store is never the one a connection is writing. paho stores a
// publish and then hands that same packet to the connection's writer,
// which sets its length field as it writes; on reconnect, resume reads
// the stored packet and sets its DUP flag while the new connection may be
// writing it (a publish made just after the reconnect that reused a freed
// message id): data races in paho itself (eclipse-paho/paho.mqtt.golang
// issue #703, open for v1.5). Copying on Get alone still read the packet
// while the writer set its length (seen under -race in TestBrokerRestart).
// Durability does not rest on this store: the outbox is the durable copy,
// and everything unacknowledged is published again after a reconnect.
type copyStore struct{ paho.Store }

func newCopyStore() copyStore { return copyStore{paho.NewMemoryStore()} }

// Put keeps a copy: paho calls it before the packet goes to the writer.
func (s copyStore) Put(key string, p packets.ControlPacket) {
	s.Store.Put(key, clonePublish(p))
}

// Get hands out a copy, which resume may flag and send.
func (s copyStore) Get(key string) packets.ControlPacket {
	return clonePublish(s.Store.Get(key))
}

// clonePublish copies a PUBLISH (its payload is never written to, and is
// shared); other packets are returned as they are.
func clonePublish(p packets.ControlPacket) packets.ControlPacket {
	if pub, ok := p.(*packets.PublishPacket); ok && pub != nil {
		c := *pub
		return &c
	}
	return p
}
