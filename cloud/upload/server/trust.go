package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// may checks with the enrolment registry that dock may upload for device
// (DESIGN.md, "Trust and judgement": a dock acts only for recorders of its
// unit). A refusal is a 403 with the reason, counted and logged, and an
// alert to the custodians of the recorder's unit (else the dock's).
func (s *Server) may(w http.ResponseWriter, r *http.Request, dock, device string) bool {
	a, err := s.store.RecorderAccess(r.Context(), dock, device)
	if err != nil {
		s.fail(w, r, dock, "check enrolment", err)
		return false
	}
	if a.UnenrolledAccepted {
		s.m.unenrolled.Inc()
	}
	if a.Allowed {
		return true
	}
	s.alert(r.Context(), store.Alert{Key: "recorder-refused/upload/" + dock + "/" + device, Kind: store.KindRecorderRefused,
		Severity: "warning", Unit: a.AlertUnit, Serial: device, Dock: dock,
		Title:  "Dock " + dock + " tried to upload footage for recorder " + device,
		Detail: a.Reason, At: s.clock.Now()})
	s.reject(w, r, dock, http.StatusForbidden, upload.ReasonRecorderRefused, nil, a.Reason)
	return false
}

// alert raises a; a failure to record it is logged (the request's own
// answer does not depend on it).
func (s *Server) alert(ctx context.Context, a store.Alert) {
	if a.Unit == "" {
		a.Unit = "unassigned"
	}
	ctx = context.WithoutCancel(ctx)
	created, err := s.store.UpsertAlert(ctx, a)
	if err != nil {
		s.log.Error("upload: raise alert failed", "kind", a.Kind, "key", a.Key, "err", err)
		return
	}
	s.m.alerts.WithLabelValues(a.Kind).Inc()
	s.log.Warn("upload: alert raised", "kind", a.Kind, "dock", a.Dock, "device", a.Serial, "seq", a.Seq, "detail", a.Detail)
	if created && s.announce != nil {
		actx, cancel := context.WithTimeout(ctx, announceTimeout)
		defer cancel()
		a.State, a.OpenedAt = store.AlertOpen, s.clock.Now()
		s.announce(actx, a)
	}
}

// announceTimeout bounds the delivery of one new alert.
const announceTimeout = 5 * time.Second

// rehash reads the held object (the version Stat named) back and checks
// that it is size bytes hashing to its id: a receipt for bytes not received in this upload is
// issued only for what the evidence store verifiably holds.
func (s *Server) rehash(ctx context.Context, obj evidence.Object, size int64) error {
	id := obj.ID
	rd, err := s.ev.Open(ctx, obj.Ref())
	if err != nil {
		return err
	}
	defer rd.Close()
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, rd})
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != id {
		return fmt.Errorf("held object %s reads back as %d bytes hashing to %s", id, n, got)
	}
	return nil
}

// ctxReader stops a long read when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
