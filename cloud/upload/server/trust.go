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
	return s.mayFor(w, r, dock, device, "")
}

// mayFor is may; claim, if not empty, says how the upload concerns device
// when it is not the upload's own recorder (mayClaim).
func (s *Server) mayFor(w http.ResponseWriter, r *http.Request, dock, device, claim string) bool {
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
	if claim != "" {
		s.refuse(w, r, true, dock, device, a.AlertUnit, claim+": "+a.Reason, claimRefused)
	} else {
		s.refuse(w, r, false, dock, device, a.AlertUnit, a.Reason, a.Reason)
	}
	return false
}

// claimRefused is all a dock is told of a refused claim (mayClaim): which
// segment and recorder already hold the footage, and their unit, are that
// unit's business, not the claiming dock's; the alert to that unit and
// the log say them.
const claimRefused = "this footage is in the evidence store as a segment this dock may not claim"

// refuse answers dock's upload concerning recorder device (its own, or,
// for a claim, the recorder the footage is receipted to) with the typed
// 403 saying told, counted and logged with why, and alerts unit's
// custodians with why. A claim's alert has a key of its own, with the
// unit in it: an alert's unit never changes once raised, and an upload
// refusal of the same dock and recorder may have gone to another unit
// (the dock's), which must not be told the claim's details.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, claim bool, dock, device, unit, why, told string) {
	key, title := "recorder-refused/upload/"+dock+"/"+device, "Dock "+dock+" tried to upload footage for recorder "+device
	if claim {
		key, title = "recorder-refused/claim/"+unit+"/"+dock+"/"+device, "Dock "+dock+" tried to claim footage of recorder "+device
	}
	s.alert(r.Context(), store.Alert{Key: key, Kind: store.KindRecorderRefused,
		Severity: "warning", Unit: unit, Serial: device, Dock: dock, Title: title, Detail: why, At: s.clock.Now()})
	if told != why {
		s.log.Warn("upload: refused", "dock", dock, "device", device, "detail", why)
	}
	s.reject(w, r, dock, http.StatusForbidden, upload.ReasonRecorderRefused, nil, told)
}

// maxClaimReceipts bounds the receipts of one object mayClaim checks.
const maxClaimReceipts = 100

// mayClaim checks, before m's segment is receipted to an object, that the
// footage does not thereby become viewable by another unit. A receipt
// binds footage to a segment, and who may view or export a segment
// follows its unit (store.CaseHit.Unit, the console's footageFor: its
// recorder's enrolled unit, else the unit of the dock whose upload its
// receipt was issued for): without this check a dock that learnt the
// SHA-256 of another unit's footage could have it receipted, with no byte
// sent (the held-object shortcut of create) or by sending it, as a
// segment of its own recorder, and its unit's supervisors could then
// play or export the other unit's footage. For
// every other receipt of the footage:
//
//   - m's dock must be allowed to handle that receipt's recorder, by the
//     recorder policy that judges its uploads (may);
//   - where the store knows the footage's unit (store.HeldReceipt.Unit,
//     judged as the console judges it: its recorder's enrolled unit, else
//     the unit of the dock whose upload it was receipted for, kept as
//     first receipted, else, for a receipt naming no dock, the unit of
//     the dock that reported the segment), m's segment must be of that
//     unit: m's recorder's enrolled unit, else m's dock's.
//
// The first rule cannot protect footage of a recorder enrolled nowhere,
// which the default policy accepts from any dock; the second does: such
// footage may be claimed by the dock that uploaded it and by the other
// docks of its unit (a recorder moved between them), by no other unit's
// dock. A receipt naming no dock (recorded before migration 0016) of a
// recorder enrolled nowhere whose segment no dock has reported has no
// known unit: the first rule alone applies, as it did before. m's own receipt (a retry of the same upload)
// binds nothing new and is not judged. A refusal is a 403 with the reason,
// counted, logged, and an alert to the footage's unit; the dock is told
// only claimRefused (not which recorder, segment or unit holds it), and
// nothing names the held object.
func (s *Server) mayClaim(w http.ResponseWriter, r *http.Request, m meta) bool {
	held, err := s.store.ReceiptsOf(r.Context(), m.SHA256, maxClaimReceipts)
	if err != nil {
		s.fail(w, r, m.Dock, "read receipts of object", err)
		return false
	}
	var mine *store.Access // m's recorder's standing, read when first needed
	for _, h := range held {
		if h.Device == m.Device && h.Seq == m.Seq {
			continue
		}
		claim := fmt.Sprintf("the footage claimed as %s/%d is receipted as %s/%d", m.Device, m.Seq, h.Device, h.Seq)
		if h.Device != m.Device && !s.mayFor(w, r, m.Dock, h.Device, claim) {
			return false
		}
		if !h.UnitKnown {
			continue
		}
		if mine == nil {
			a, err := s.store.RecorderAccess(r.Context(), m.Dock, m.Device)
			if err != nil {
				s.fail(w, r, m.Dock, "check enrolment", err)
				return false
			}
			mine = &a
		}
		unit := mine.DockUnit
		if mine.Enrolled {
			unit = mine.RecorderUnit
		}
		if unit != h.Unit {
			s.refuse(w, r, true, m.Dock, h.Device, h.Unit, fmt.Sprintf("%s: it is footage of unit %q, and %s/%d would be footage of unit %q",
				claim, h.Unit, m.Device, m.Seq, unit), claimRefused)
			return false
		}
	}
	return true
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
