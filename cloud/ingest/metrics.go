package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of one Ingest, registered on the registry given to New.
type metrics struct {
	received   prometheus.Counter
	rejected   *prometheus.CounterVec
	ignored    prometheus.Counter
	committed  prometheus.Counter
	duplicates prometheus.Counter
	coalesced  prometheus.Counter
	acks       prometheus.Counter
	ackErrors  prometheus.Counter
	commitErrs prometheus.Counter
	commitSecs prometheus.Histogram
	batchSize  prometheus.Histogram
	connLost   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "received_total", Help: "MQTT messages received on dock topics."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "rejected_total", Help: "Messages refused, by reason."}, []string{"reason"}),
		ignored: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "ignored_total", Help: "Messages on collector-to-dock topics (ack, cmd) seen by the subscription and skipped."}),
		committed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "committed_total", Help: "Messages committed for the first time."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "duplicates_total", Help: "Redelivered messages acknowledged again without a write."}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "coalesced_total", Help: "Copies of a message that arrived while it was being committed, acknowledged with it."}),
		acks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "acked_ids_total", Help: "Message ids named in acks published to docks."}),
		ackErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "ack_publish_errors_total", Help: "Acks the broker did not take (the dock sends again)."}),
		commitErrs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "commit_errors_total", Help: "Failed store commits (retried)."}),
		commitSecs: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "commit_seconds", Help: "Duration of store commits.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "batch_messages", Help: "Messages per commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		connLost: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "berth", Subsystem: "ingest",
			Name: "connections_lost_total", Help: "MQTT connections lost (a broker dropping the collector's session shows here)."}),
	}
	for _, r := range Reasons {
		m.rejected.WithLabelValues(r) // export zeros, so a rate() has a series from the start
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.received, m.rejected, m.ignored, m.committed, m.duplicates, m.coalesced, m.acks,
		m.ackErrors, m.commitErrs, m.commitSecs, m.batchSize, m.connLost} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ingest: register metrics: %w", err)
		}
	}
	return m, nil
}
