package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// FirmwareStore is the part of the store firmware distribution reads; a
// Store that does not implement it serves no campaigns (404).
type FirmwareStore interface {
	FirmwareCampaigns(ctx context.Context) ([]store.FirmwareCampaign, error)
	SerialsElsewhere(ctx context.Context, dock string, serials []string) (map[string]bool, error)
}

// firmware serves upload.FirmwarePath to an authenticated dock: the
// campaign list, or one campaign's image (http.ServeContent: Range
// requests resume a broken download).
func (s *Server) firmware(w http.ResponseWriter, r *http.Request, dock, rest string) {
	fs, ok := s.store.(FirmwareStore)
	if !ok {
		s.reject(w, r, dock, http.StatusNotFound, upload.ReasonNotFound, nil, "no firmware campaigns here")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.methodNotAllowed(w, r, dock, "GET, HEAD")
		return
	}
	cs, err := fs.FirmwareCampaigns(r.Context())
	if err != nil {
		s.fail(w, r, dock, "firmware campaigns", err)
		return
	}
	if rest == "" {
		out := upload.FirmwareCampaigns{Campaigns: []upload.FirmwareCampaign{}}
		for _, c := range cs {
			serials, err := s.pilotFor(r.Context(), fs, dock, c.Targets())
			if err != nil {
				s.fail(w, r, dock, "firmware campaigns", err)
				return
			}
			if c.Targets() != nil && len(serials) == 0 {
				continue // a pilot with none of this dock's recorders; an empty list would mean all
			}
			out.Campaigns = append(out.Campaigns, upload.FirmwareCampaign{ID: c.ID, Model: c.Model, Version: c.Version,
				Size: uint64(c.Size), SHA256: c.SHA256, Signature: c.Signature, Serials: serials, Image: upload.FirmwareImagePath(c.ID)})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out) // a write error is the client gone
		return
	}
	id, what, _ := strings.Cut(rest, "/")
	if wire.ValidID(id) != nil || what != "image" {
		s.reject(w, r, dock, http.StatusNotFound, upload.ReasonNotFound, nil, "no such firmware path")
		return
	}
	for _, c := range cs {
		if c.ID != id {
			continue
		}
		f, err := os.Open(c.Image)
		if err != nil {
			s.fail(w, r, dock, "firmware image", err)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			s.fail(w, r, dock, "firmware image", err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", fi.ModTime(), f)
		return
	}
	s.reject(w, r, dock, http.StatusNotFound, upload.ReasonNotFound, nil, "no such campaign")
}

// pilotFor is the part of a campaign's pilot (targets; nil: every recorder
// of the model) a dock is told of: not the recorders enrolled to another
// unit, whose serials are not the dock's to know (it may not handle them).
func (s *Server) pilotFor(ctx context.Context, fs FirmwareStore, dock string, targets []string) ([]string, error) {
	if targets == nil {
		return nil, nil
	}
	away, err := fs.SerialsElsewhere(ctx, dock, targets)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(targets))
	for _, sn := range targets {
		if !away[sn] {
			out = append(out, sn)
		}
	}
	return out, nil
}
