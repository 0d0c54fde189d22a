package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// meta is what the staging area keeps about its upload.
type meta struct {
	Dock string `json:"dock"`
	upload.CreateRequest
}

// create answers POST /v1/uploads: the segment's receipt if the collector
// has one (or holds the object), else the upload's id and durable offset.
func (s *Server) create(w http.ResponseWriter, r *http.Request, dock string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, upload.MaxCreateBody))
	if err != nil {
		s.reject(w, r, dock, http.StatusBadRequest, upload.ReasonBadRequest, nil, "create body: "+err.Error())
		return
	}
	var cr upload.CreateRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cr); err != nil {
		s.reject(w, r, dock, http.StatusBadRequest, upload.ReasonBadRequest, nil, "create body: "+err.Error())
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		s.reject(w, r, dock, http.StatusBadRequest, upload.ReasonBadRequest, nil, "create body: data after the object")
		return
	}
	switch {
	case wire.ValidID(cr.Device) != nil:
		s.reject(w, r, dock, http.StatusBadRequest, upload.ReasonBadID, nil, wire.ValidID(cr.Device).Error())
		return
	case !wire.ValidSHA256(cr.SHA256):
		s.reject(w, r, dock, http.StatusBadRequest, upload.ReasonBadHash, nil, fmt.Sprintf("sha256 %.80q is not 64 lowercase hex digits", cr.SHA256))
		return
	case cr.Size < 0 || cr.Seq > math.MaxInt64:
		s.reject(w, r, dock, http.StatusBadRequest, upload.ReasonBadRequest, nil, fmt.Sprintf("size %d seq %d", cr.Size, cr.Seq))
		return
	case cr.Size > s.maxSize:
		s.reject(w, r, dock, http.StatusRequestEntityTooLarge, upload.ReasonTooLarge, nil, fmt.Sprintf("size %d over the limit %d", cr.Size, s.maxSize))
		return
	}
	if !s.may(w, r, dock, cr.Device) {
		return
	}
	ctx := r.Context()
	m := meta{Dock: dock, CreateRequest: cr}
	rec, ok, err := s.store.Receipt(ctx, cr.Device, cr.Seq)
	if err != nil {
		s.fail(w, r, dock, "read receipt", err)
		return
	}
	if ok {
		if rec.SHA256 != cr.SHA256 || rec.Size != cr.Size {
			s.conflict(w, r, m, rec)
			return
		}
		s.m.receipts.WithLabelValues(outcomeExisting).Inc()
		writeJSON(w, http.StatusOK, upload.Status{Offset: cr.Size, Size: cr.Size, Receipt: &rec})
		return
	}
	id := uploadID(dock, cr)
	obj, err := s.ev.Stat(ctx, cr.SHA256)
	switch {
	case err == nil:
		// The same footage is held already: receipt it without a second copy.
		if obj.Size != cr.Size {
			s.reject(w, r, dock, http.StatusUnprocessableEntity, upload.ReasonSizeMismatch, nil,
				fmt.Sprintf("object %s holds %d bytes, not %d", obj.ID, obj.Size, cr.Size))
			return
		}
		// No bytes came in this upload: the receipt stands on the held
		// object only after it is read back and hashes to its id.
		if err := s.rehash(ctx, obj, cr.Size); err != nil {
			if ctx.Err() == nil {
				s.alert(ctx, store.Alert{Key: "evidence-corrupt/" + obj.ID, Kind: store.KindEvidenceCorrupt, Severity: "critical",
					Unit: "unassigned", Serial: cr.Device, Seq: cr.Seq, Dock: dock,
					Title: "Evidence object " + obj.ID + " does not verify", Detail: err.Error(), At: s.clock.Now()})
			}
			s.fail(w, r, dock, "verify held object", err)
			return
		}
		if err := s.ev.Discard(ctx, id); err != nil { // a staged copy of what is held; not evidence
			s.log.Warn("upload: discarding redundant staging", "upload", id, "err", err)
		}
		s.issue(w, r, m, obj, outcomeDedup)
		return
	case !errors.Is(err, evidence.ErrNotFound):
		s.fail(w, r, dock, "stat object", err)
		return
	}
	if !s.withinQuota(w, r, dock, id, cr.Size) {
		return
	}
	mb, _ := json.Marshal(m)
	st, err := s.ev.Begin(ctx, id, cr.Size, cr.SHA256, mb)
	if err != nil {
		s.fail(w, r, dock, "begin upload", err)
		return
	}
	if have, err := decodeMeta(st.Meta); err != nil || have != m || st.Size != cr.Size {
		s.fail(w, r, dock, "begin upload", fmt.Errorf("staging %s holds another upload (%+v, %v)", id, have, err))
		return
	}
	writeJSON(w, http.StatusCreated, upload.Status{Upload: id, Offset: st.Offset, Size: st.Size})
}

func decodeMeta(b []byte) (meta, error) {
	var m meta
	err := json.Unmarshal(b, &m)
	return m, err
}

// staged looks up dock's upload id; an upload of another dock is unknown.
func (s *Server) staged(w http.ResponseWriter, r *http.Request, dock, id string) (evidence.Staging, meta, bool) {
	st, err := s.ev.Staged(r.Context(), id)
	if errors.Is(err, evidence.ErrNotFound) {
		s.reject(w, r, dock, http.StatusNotFound, upload.ReasonUnknownUpload, nil, "no upload "+id)
		return evidence.Staging{}, meta{}, false
	}
	if err != nil {
		s.fail(w, r, dock, "read upload", err)
		return evidence.Staging{}, meta{}, false
	}
	m, err := decodeMeta(st.Meta)
	if err != nil {
		s.fail(w, r, dock, "read upload", fmt.Errorf("staging %s metadata: %w", id, err))
		return evidence.Staging{}, meta{}, false
	}
	if m.Dock != dock {
		s.reject(w, r, dock, http.StatusNotFound, upload.ReasonUnknownUpload, nil, "no upload "+id)
		return evidence.Staging{}, meta{}, false
	}
	return st, m, true
}

// status answers HEAD and GET /v1/uploads/{id}.
func (s *Server) status(w http.ResponseWriter, r *http.Request, dock, id string) {
	st, _, ok := s.staged(w, r, dock, id)
	if !ok {
		return
	}
	w.Header().Set(upload.HeaderOffset, strconv.FormatInt(st.Offset, 10))
	w.Header().Set(upload.HeaderLength, strconv.FormatInt(st.Size, 10))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, upload.Status{Upload: id, Offset: st.Offset, Size: st.Size})
}

// chunk answers PATCH (or PUT) /v1/uploads/{id}: one whole chunk at the
// durable offset, checked against its SHA-256 as it streams into the
// evidence store, on disk before the answer.
func (s *Server) chunk(w http.ResponseWriter, r *http.Request, dock, id string) {
	st, _, ok := s.staged(w, r, dock, id)
	if !ok {
		return
	}
	off, err := parseOffset(r.Header.Get(upload.HeaderOffset))
	if err != nil {
		s.reject(w, r, dock, http.StatusBadRequest, upload.ReasonBadRequest, nil, err.Error())
		return
	}
	want := r.Header.Get(upload.HeaderChunkSHA256)
	if !wire.ValidSHA256(want) {
		s.reject(w, r, dock, http.StatusBadRequest, upload.ReasonBadHash, nil,
			fmt.Sprintf("%s %.80q is not 64 lowercase hex digits", upload.HeaderChunkSHA256, want))
		return
	}
	n := r.ContentLength
	switch {
	case n < 0:
		s.reject(w, r, dock, http.StatusLengthRequired, upload.ReasonLengthRequired, nil, "chunk without Content-Length")
		return
	case n > s.maxChunk:
		s.reject(w, r, dock, http.StatusRequestEntityTooLarge, upload.ReasonChunkTooLarge, nil,
			fmt.Sprintf("chunk of %d bytes over the limit %d", n, s.maxChunk))
		return
	case off != st.Offset:
		s.reject(w, r, dock, http.StatusConflict, upload.ReasonOffsetConflict, &st.Offset,
			fmt.Sprintf("chunk at %d, upload's durable offset is %d", off, st.Offset))
		return
	case n > st.Size-off:
		s.reject(w, r, dock, http.StatusUnprocessableEntity, upload.ReasonSizeMismatch, &st.Offset,
			fmt.Sprintf("%d bytes at %d run past the declared size %d", n, off, st.Size))
		return
	}
	// The evidence store holds this upload while the body streams in; a
	// stalled connection must not hold it for long.
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(s.wall.Now().Add(s.chunkTimeout)); err == nil { // an I/O deadline: wall time
		defer rc.SetReadDeadline(time.Time{})
	}
	end, err := s.ev.Append(r.Context(), id, off, r.Body, n, want)
	switch {
	case errors.Is(err, evidence.ErrShortChunk):
		s.reject(w, r, dock, http.StatusBadRequest, upload.ReasonIncompleteChunk, &end, err.Error())
		return
	case errors.Is(err, evidence.ErrChunkSum):
		s.reject(w, r, dock, http.StatusUnprocessableEntity, upload.ReasonChunkChecksum, &end, err.Error())
		return
	case errors.Is(err, evidence.ErrOffset): // a concurrent request won the race
		s.reject(w, r, dock, http.StatusConflict, upload.ReasonOffsetConflict, &end, err.Error())
		return
	case errors.Is(err, evidence.ErrTooLarge):
		s.reject(w, r, dock, http.StatusUnprocessableEntity, upload.ReasonSizeMismatch, &end, err.Error())
		return
	case err != nil:
		s.fail(w, r, dock, "append chunk", err)
		return
	}
	s.m.bytes.Add(float64(n))
	w.Header().Set(upload.HeaderOffset, strconv.FormatInt(end, 10))
	w.WriteHeader(http.StatusNoContent)
}

// parseOffset parses a decimal offset: digits only, no sign, fits int64.
func parseOffset(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, fmt.Errorf("%s %.40q is not a decimal offset", upload.HeaderOffset, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%s %.40q is not a decimal offset", upload.HeaderOffset, s)
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %.40q: %w", upload.HeaderOffset, s, err)
	}
	return v, nil
}

// finish answers POST /v1/uploads/{id}/finish: verify, commit, receipt.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, dock, id string) {
	st, m, ok := s.staged(w, r, dock, id)
	if !ok {
		return
	}
	if !s.may(w, r, dock, m.Device) { // enrolment may have changed since create
		return
	}
	if st.Offset != st.Size {
		s.reject(w, r, dock, http.StatusConflict, upload.ReasonShortUpload, &st.Offset,
			fmt.Sprintf("%d of %d bytes received", st.Offset, st.Size))
		return
	}
	obj, err := s.ev.Commit(r.Context(), id, m.SHA256, m.Size)
	switch {
	case errors.Is(err, evidence.ErrHashMismatch):
		// The staged bytes can never become this object; drop them so a
		// new attempt starts clean (the dock still holds the original).
		if derr := s.ev.Discard(r.Context(), id); derr != nil {
			s.fail(w, r, dock, "discard mismatched upload", derr)
			return
		}
		s.reject(w, r, dock, http.StatusUnprocessableEntity, upload.ReasonHashMismatch, nil, err.Error())
		return
	case errors.Is(err, evidence.ErrSizeMismatch):
		s.reject(w, r, dock, http.StatusConflict, upload.ReasonShortUpload, &st.Offset, err.Error())
		return
	case err != nil:
		s.fail(w, r, dock, "commit object", err)
		return
	}
	s.issue(w, r, m, obj, outcomeIssued)
}

// issue signs and records the receipt of m's segment held as obj, and
// answers with the receipt the store holds (the first one, if the segment
// was receipted before).
func (s *Server) issue(w http.ResponseWriter, r *http.Request, m meta, obj evidence.Object, outcome string) {
	if !s.mayClaim(w, r, m) {
		return
	}
	ctx := r.Context()
	rec := wire.Receipt{ObjectID: obj.Ref(), // names the stored version where the store keeps versions (S3)
		Device: m.Device, Seq: m.Seq, SHA256: m.SHA256, Size: m.Size,
		StoredAt: s.clock.Now().UTC()}
	rec.Sign(s.keyID, s.key)
	rerr := s.store.RecordReceiptFrom(ctx, rec, m.Dock)
	stored, ok, err := s.recorded(ctx, m)
	switch {
	case err != nil:
		s.fail(w, r, m.Dock, "read receipt", err)
		return
	case !ok:
		s.fail(w, r, m.Dock, "record receipt", fmt.Errorf("not recorded: %v", rerr))
		return
	case stored.SHA256 != m.SHA256 || stored.Size != m.Size || stored.ObjectID != obj.Ref():
		s.conflict(w, r, m, stored)
		return
	}
	if rerr != nil {
		s.log.Warn("upload: record receipt failed but an equal receipt is stored", "device", m.Device, "seq", m.Seq, "err", rerr)
	}
	s.m.receipts.WithLabelValues(outcome).Inc()
	s.log.Info("upload: receipt", "dock", m.Dock, "device", m.Device, "seq", m.Seq, "object", obj.Ref(),
		"size", m.Size, "outcome", outcome)
	writeJSON(w, http.StatusOK, upload.Status{Offset: m.Size, Size: m.Size, Receipt: &stored})
}

func (s *Server) recorded(ctx context.Context, m meta) (wire.Receipt, bool, error) {
	return s.store.Receipt(ctx, m.Device, m.Seq)
}

// conflict answers an upload of a segment already receipted with another
// hash or size: 409, and an alert, since one of the two claims is false
// (junk receipted first, or a recorder reusing a sequence number).
func (s *Server) conflict(w http.ResponseWriter, r *http.Request, m meta, have wire.Receipt) {
	unit := ""
	if a, err := s.store.RecorderAccess(r.Context(), m.Dock, m.Device); err == nil {
		unit = a.RecorderUnit
		if unit == "" {
			unit = a.DockUnit
		}
	}
	s.log.Warn("upload: receipt conflict", "dock", m.Dock, "device", m.Device, "seq", m.Seq, "claimed_sha256", m.SHA256,
		"claimed_size", m.Size, "held_object", have.ObjectID, "held_sha256", have.SHA256, "held_size", have.Size)
	// Neither the alert (which may go to the claiming dock's unit, for a
	// recorder enrolled nowhere) nor the answer names the held footage's
	// hash or object: a hash is what claims footage by reference.
	detail := fmt.Sprintf("dock %s uploads %s/%d as sha256 %s size %d; the collector already holds a receipted recording of %s/%d with another hash or size (its evidence is under %s/%d)",
		m.Dock, m.Device, m.Seq, m.SHA256, m.Size, m.Device, m.Seq, m.Device, m.Seq)
	s.alert(r.Context(), store.Alert{Key: fmt.Sprintf("receipt-conflict/%s/%d/%s", m.Device, m.Seq, m.SHA256),
		Kind: store.KindReceiptConflict, Severity: "critical", Unit: unit, Serial: m.Device, Seq: m.Seq, Dock: m.Dock,
		Title:  fmt.Sprintf("Recorder %s segment %d: two different recordings claim one sequence number", m.Device, m.Seq),
		Detail: detail, At: s.clock.Now()})
	s.reject(w, r, m.Dock, http.StatusConflict, upload.ReasonReceiptConflict, nil,
		fmt.Sprintf("%s/%d is already receipted with another hash or size", m.Device, m.Seq))
}
