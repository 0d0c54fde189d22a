package dock

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdock/berth/cloud/wire"
)

// Collector exports the dock's figures to Prometheus at scrape time, from
// the same sources dockctl reads, so the two never disagree.
type Collector struct{ d *Dock }

// Metrics returns a Prometheus collector for the dock.
func (d *Dock) Metrics() prometheus.Collector { return Collector{d} }

var (
	descSlot      = prometheus.NewDesc("berth_dock_slot_state", "1 for the state each slot is in.", []string{"slot", "state"}, nil)
	descCopied    = prometheus.NewDesc("berth_dock_slot_bytes_copied", "Footage bytes durable in the buffer for the recorder in the slot.", []string{"slot"}, nil)
	descBuffer    = prometheus.NewDesc("berth_dock_buffer_bytes", "Bytes the evidence buffer uses on disk.", nil, nil)
	descCapacity  = prometheus.NewDesc("berth_dock_buffer_capacity_bytes", "The evidence buffer's capacity.", nil, nil)
	descBacklog   = prometheus.NewDesc("berth_dock_backlog_segments", "Buffered segments without a receipt.", nil, nil)
	descBacklogB  = prometheus.NewDesc("berth_dock_backlog_bytes", "Bytes of buffered segments without a receipt.", nil, nil)
	descOldest    = prometheus.NewDesc("berth_dock_backlog_oldest_seconds", "Age of the oldest segment without a receipt.", nil, nil)
	descOutbox    = prometheus.NewDesc("berth_dock_outbox_pending", "Reports not yet acknowledged by the collector.", nil, nil)
	descMQTT      = prometheus.NewDesc("berth_dock_mqtt_connected", "1 while connected to the broker.", nil, nil)
	descPublished = prometheus.NewDesc("berth_dock_reports_published_total", "Reports published (including republished).", nil, nil)
	descAcked     = prometheus.NewDesc("berth_dock_reports_acked_total", "Reports acknowledged by the collector.", nil, nil)
	descRejected  = prometheus.NewDesc("berth_dock_messages_rejected_total", "Acks and commands rejected as malformed.", nil, nil)
)

var slotStates = []string{wire.SlotEmpty, wire.SlotPresent, wire.SlotIdentified, wire.SlotInventoried, wire.SlotCopying,
	wire.SlotBuffered, wire.SlotUploaded, wire.SlotReleased, wire.SlotReady, wire.SlotFault}

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSlot, descCopied, descBuffer, descCapacity, descBacklog, descBacklogB, descOldest,
		descOutbox, descMQTT, descPublished, descAcked, descRejected} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.Status()
	for _, s := range st.Slots {
		slot := strconv.Itoa(s.Index)
		for _, name := range slotStates {
			v := 0.0
			if name == s.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descSlot, prometheus.GaugeValue, v, slot, name)
		}
		ch <- prometheus.MustNewConstMetric(descCopied, prometheus.GaugeValue, float64(s.BytesCopied), slot)
	}
	b := st.Backlog
	ch <- prometheus.MustNewConstMetric(descBuffer, prometheus.GaugeValue, float64(b.BufferBytes))
	ch <- prometheus.MustNewConstMetric(descCapacity, prometheus.GaugeValue, float64(b.BufferCapacity))
	ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(b.Segments))
	ch <- prometheus.MustNewConstMetric(descBacklogB, prometheus.GaugeValue, float64(b.Bytes))
	age := 0.0
	if !b.Oldest.IsZero() {
		age = c.d.set.Clock.Now().Sub(b.Oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(st.OutboxPending))
	conn := 0.0
	if st.MQTTConnected {
		conn = 1
	}
	ch <- prometheus.MustNewConstMetric(descMQTT, prometheus.GaugeValue, conn)
	pub, acked, rej := c.d.rep.Stats()
	ch <- prometheus.MustNewConstMetric(descPublished, prometheus.CounterValue, float64(pub))
	ch <- prometheus.MustNewConstMetric(descAcked, prometheus.CounterValue, float64(acked))
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(rej))
}
