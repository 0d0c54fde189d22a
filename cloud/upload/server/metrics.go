package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdock/berth/cloud/wire/upload"
)

type metrics struct {
	rejections *prometheus.CounterVec // by reason
	failures   prometheus.Counter     // 5xx: the collector's own failures
	bytes      prometheus.Counter     // chunk bytes made durable
	receipts   *prometheus.CounterVec // by outcome: issued (new object), dedup (object existed), existing (receipt existed)
	unenrolled prometheus.Counter     // uploads accepted for recorders not enrolled (policy "protected")
	alerts     *prometheus.CounterVec // alerts raised, by kind
	swept      prometheus.Counter     // abandoned staging areas discarded
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_upload_rejections_total",
			Help: "Upload requests rejected with a 4xx, by reason."}, []string{"reason"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_upload_failures_total",
			Help: "Upload requests that failed on the collector's side (5xx)."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_upload_bytes_total",
			Help: "Chunk bytes durably staged."}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_upload_receipts_total",
			Help: "Receipts answered, by outcome (issued, dedup, existing)."}, []string{"outcome"}),
		unenrolled: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_upload_unenrolled_recorder_total",
			Help: "Upload requests accepted for recorders not enrolled (enrolment policy protected)."}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_upload_alerts_total",
			Help: "Alerts the upload endpoint raised, by kind."}, []string{"kind"}),
		swept: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_upload_staging_swept_total",
			Help: "Abandoned uploads (staging areas untouched beyond the TTL) discarded."}),
	}
	for _, r := range upload.Reasons {
		m.rejections.WithLabelValues(string(r))
	}
	for _, o := range []string{outcomeIssued, outcomeDedup, outcomeExisting} {
		m.receipts.WithLabelValues(o)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.rejections, m.failures, m.bytes, m.receipts, m.unenrolled, m.alerts, m.swept} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("server: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

const (
	outcomeIssued   = "issued"
	outcomeDedup    = "dedup"
	outcomeExisting = "existing"
)

// reject answers a 4xx, counts it by reason and logs it (rate-limited).
func (s *Server) reject(w http.ResponseWriter, r *http.Request, dock string, status int, reason upload.Reason, offset *int64, msg string) {
	s.m.rejections.WithLabelValues(string(reason)).Inc()
	if s.logLimit.Allow() {
		s.log.Warn("upload: rejected", "dock", dock, "method", r.Method, "path", truncate(r.URL.Path, 120),
			"status", status, "reason", reason, "detail", msg)
	}
	if offset != nil {
		w.Header().Set(upload.HeaderOffset, strconv.FormatInt(*offset, 10))
	}
	writeJSON(w, status, upload.ErrorBody{Reason: reason, Error: msg, Offset: offset})
}

// fail answers a 5xx for the collector's own failure.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, dock, what string, err error) {
	s.m.failures.Inc()
	status := http.StatusInternalServerError
	if errors.Is(err, r.Context().Err()) && r.Context().Err() != nil {
		status = http.StatusServiceUnavailable
	}
	s.log.Error("upload: "+what+" failed", "dock", dock, "method", r.Method, "path", truncate(r.URL.Path, 120), "err", err)
	writeJSON(w, status, upload.ErrorBody{Reason: "internal", Error: what + " failed"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
