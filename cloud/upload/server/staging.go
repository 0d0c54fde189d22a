package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/berthdock/berth/cloud/wire/upload"
)

// withinQuota refuses a new upload (429 staging_quota) when dock's
// unfinished uploads, with this one, would declare more than the staging
// quota; resuming an upload that exists (id) is always allowed.
func (s *Server) withinQuota(w http.ResponseWriter, r *http.Request, dock, id string, size int64) bool {
	if s.areas == nil {
		return true
	}
	areas, err := s.areas.StagingAreas(r.Context())
	if err != nil {
		s.fail(w, r, dock, "list staging", err)
		return false
	}
	held := size
	for _, a := range areas {
		if a.ID == id {
			return true
		}
		if m, err := decodeMeta(a.Meta); err == nil && m.Dock == dock {
			held += a.Size
		}
	}
	if held > s.stagingQuota {
		s.reject(w, r, dock, http.StatusTooManyRequests, upload.ReasonStagingQuota, nil,
			fmt.Sprintf("unfinished uploads would hold %d bytes, over the dock's staging quota of %d", held, s.stagingQuota))
		return false
	}
	return true
}

// Sweep discards the staging areas untouched for longer than the staging
// TTL (abandoned uploads) and returns how many it discarded. The dock
// still holds the footage and uploads it again when it returns.
func (s *Server) Sweep(ctx context.Context) (int, error) {
	if s.areas == nil {
		return 0, nil
	}
	areas, err := s.areas.StagingAreas(ctx)
	if err != nil {
		return 0, err
	}
	cutoff := s.wall.Now().Add(-s.stagingTTL) // file times: wall clock
	n := 0
	for _, a := range areas {
		if !a.Touched.Before(cutoff) {
			continue
		}
		if err := s.ev.Discard(ctx, a.ID); err != nil {
			return n, err
		}
		n++
		s.m.swept.Inc()
		dock := ""
		if m, err := decodeMeta(a.Meta); err == nil {
			dock = m.Dock
		}
		s.log.Info("upload: abandoned upload discarded", "upload", a.ID, "dock", dock, "size", a.Size, "touched", a.Touched)
	}
	return n, nil
}
