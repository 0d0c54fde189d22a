// Package server is the collector's side of the resumable upload protocol
// (package cloud/wire/upload): an http.Handler that stages a dock's chunks in the
// evidence store, verifies and commits the object, records the receipt in
// the collector's store and answers with the receipt signed by the
// collector's Ed25519 key.
//
// The handler is plain HTTP; the caller mounts it and chooses TLS:
//
//	srv, err := server.New(server.Opts{Store: st, Evidence: ev, Key: key, Logger: log, Registry: reg})
//	mux.Handle(upload.PathPrefix, srv)
//	mux.Handle(upload.PathPrefix+"/", srv)
//	(&http.Server{Handler: mux, TLSConfig: tlsConf}).ListenAndServeTLS("", "")
//
// All state of an upload lives in the evidence store's staging area (chunk
// bytes, the durable offset and the upload's metadata) and in the SQL store
// (receipts), so a restarted collector continues an upload where it
// stopped. The upload id is derived from the dock and the segment, which
// makes create idempotent. On the S3 backend any instance continues any
// upload (its staging is in the bucket); several instances may share one
// evidence directory without ever overwriting an object, but the
// filesystem backend serialises a staging area's appends only within one
// process: route a dock to one instance (see package evidence).
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/pki"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// Store is the part of the collector's store (cloud/store.Store) the
// endpoint uses.
type Store interface {
	// CheckDockToken reports whether token is enrolled dock's token.
	CheckDockToken(ctx context.Context, dock, token string) (bool, error)
	// DockEnrolled reports whether dock is enrolled (a client certificate
	// names the dock; enrolment must still hold it).
	DockEnrolled(ctx context.Context, dock string) (bool, error)
	// RecordReceiptFrom records a receipt for dock's upload; the same
	// (device, seq, object, hash, size) again is a no-op that keeps the
	// first receipt.
	RecordReceiptFrom(ctx context.Context, r wire.Receipt, dock string) error
	// Receipt returns the recorded receipt of device's segment seq.
	Receipt(ctx context.Context, device string, seq uint64) (wire.Receipt, bool, error)
	// ReceiptsOf lists up to limit receipts of the object with a SHA-256,
	// each with its footage's unit.
	ReceiptsOf(ctx context.Context, sha256hex string, limit int) ([]store.HeldReceipt, error)
	// RecorderAccess judges, from enrolment, whether dock may upload for
	// the recorder serial.
	RecorderAccess(ctx context.Context, dock, serial string) (store.Access, error)
	// UpsertAlert raises an alert (refusals, receipt conflicts).
	UpsertAlert(ctx context.Context, a store.Alert) (bool, error)
}

// Opts configures a Server.
type Opts struct {
	Store    Store          // required
	Evidence evidence.Store // required
	Key      ed25519.PrivateKey
	KeyID    string // names Key in receipts; default KeyID(Key.Public())
	Logger   *slog.Logger
	// Registry receives the endpoint's metrics; nil keeps them unexported.
	Registry prometheus.Registerer
	Clock    clockwork.Clock // stamps receipts; nil: the real clock
	// MaxChunk bounds one chunk request's body (default DefaultMaxChunk).
	// Chunks stream to disk; memory per request is a 1 MiB buffer.
	MaxChunk int64
	// ChunkTimeout bounds how long one chunk's body may take to arrive
	// (default DefaultChunkTimeout); the upload is held meanwhile, so a
	// stalled connection must not keep a resumed one waiting. Docks with a
	// bandwidth cap choose their chunk size to fit (cap × timeout).
	ChunkTimeout time.Duration
	// MaxSize bounds an upload's declared size (default DefaultMaxSize).
	MaxSize int64
	// StagingQuota bounds the declared bytes of one dock's unfinished
	// uploads (default DefaultStagingQuota); a create beyond it is 429
	// staging_quota, which the dock retries after finishing others.
	StagingQuota int64
	// StagingTTL is how long an upload may sit untouched before Sweep
	// discards it (default DefaultStagingTTL); the dock, still holding the
	// footage, uploads it again from the start.
	StagingTTL time.Duration
	// Announce, if set, delivers each new alert the endpoint raised (to
	// the unit's custodians and supervisors); it is called on the
	// request's goroutine with a bounded context.
	Announce func(context.Context, store.Alert)
	// RequireCertificate refuses a dock that presents no verified client
	// certificate (mutual TLS; the HTTP server's TLS config verifies
	// certificates given); a bearer token alone is then not enough.
	RequireCertificate bool
}

// Defaults of Opts.
const (
	DefaultMaxChunk     = 16 << 20
	DefaultMaxSize      = 64 << 30
	DefaultChunkTimeout = 2 * time.Minute
	DefaultStagingQuota = 64 << 30
	DefaultStagingTTL   = 7 * 24 * time.Hour
)

// Server is the upload endpoint; it is an http.Handler.
type Server struct {
	requireCert bool
	store       Store
	ev          evidence.Store
	key         ed25519.PrivateKey
	keyID       string
	log         *slog.Logger
	clock       clockwork.Clock
	wall        clockwork.Clock // I/O deadlines: always the real clock
	m           *metrics

	maxChunk     int64
	maxSize      int64
	chunkTimeout time.Duration

	logLimit *rate.Limiter // rejection logs
	announce func(context.Context, store.Alert)

	areas        stagingLister // nil: the evidence store cannot list staging (no quota, no sweep)
	stagingQuota int64
	stagingTTL   time.Duration
}

// stagingLister lists staging areas (*evidence.FS and *evidence.S3 do).
type stagingLister interface {
	StagingAreas(ctx context.Context) ([]evidence.StagingArea, error)
}

// KeyID names a collector public key in receipts (wire.KeyID).
func KeyID(pub ed25519.PublicKey) string { return wire.KeyID(pub) }

// New makes the endpoint.
func New(o Opts) (*Server, error) {
	if o.Store == nil || o.Evidence == nil {
		return nil, errors.New("server: Store and Evidence are required")
	}
	if len(o.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("server: signing key of %d bytes", len(o.Key))
	}
	s := &Server{requireCert: o.RequireCertificate, store: o.Store, ev: o.Evidence, key: o.Key, keyID: o.KeyID, log: o.Logger, clock: o.Clock, wall: clockwork.NewRealClock(),
		maxChunk: o.MaxChunk, maxSize: o.MaxSize, chunkTimeout: o.ChunkTimeout, logLimit: rate.NewLimiter(10, 20),
		announce: o.Announce}
	if s.keyID == "" {
		s.keyID = KeyID(o.Key.Public().(ed25519.PublicKey))
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clock == nil {
		s.clock = s.wall
	}
	if s.maxChunk <= 0 {
		s.maxChunk = DefaultMaxChunk
	}
	if s.chunkTimeout <= 0 {
		s.chunkTimeout = DefaultChunkTimeout
	}
	if s.maxSize <= 0 {
		s.maxSize = DefaultMaxSize
	}
	s.areas, _ = o.Evidence.(stagingLister)
	if s.stagingQuota = o.StagingQuota; s.stagingQuota <= 0 {
		s.stagingQuota = DefaultStagingQuota
	}
	if s.stagingTTL = o.StagingTTL; s.stagingTTL <= 0 {
		s.stagingTTL = DefaultStagingTTL
	}
	var err error
	if s.m, err = newMetrics(o.Registry); err != nil {
		return nil, err
	}
	return s, nil
}

// ServeHTTP routes a request of the upload protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, upload.PathPrefix)
	if !ok || (rest != "" && rest[0] != '/') {
		s.reject(w, r, "", http.StatusNotFound, upload.ReasonNotFound, nil, "no such path")
		return
	}
	dock, ok := s.auth(w, r)
	if !ok {
		return
	}
	rest = strings.TrimPrefix(rest, "/")
	if fw, ok := strings.CutPrefix(rest, "firmware"); ok && (fw == "" || fw[0] == '/') {
		s.firmware(w, r, dock, strings.TrimPrefix(fw, "/"))
		return
	}
	if rest == "" {
		if r.Method != http.MethodPost {
			s.methodNotAllowed(w, r, dock, "POST")
			return
		}
		s.create(w, r, dock)
		return
	}
	id, action, _ := strings.Cut(rest, "/")
	if !validUploadID(id) {
		s.reject(w, r, dock, http.StatusBadRequest, upload.ReasonBadID, nil, fmt.Sprintf("upload id %.80q", id))
		return
	}
	switch action {
	case "":
		switch r.Method {
		case http.MethodHead, http.MethodGet:
			s.status(w, r, dock, id)
		case http.MethodPatch, http.MethodPut:
			s.chunk(w, r, dock, id)
		default:
			s.methodNotAllowed(w, r, dock, "GET, HEAD, PATCH, PUT")
		}
	case "finish":
		if r.Method != http.MethodPost {
			s.methodNotAllowed(w, r, dock, "POST")
			return
		}
		s.finish(w, r, dock, id)
	default:
		s.reject(w, r, dock, http.StatusNotFound, upload.ReasonNotFound, nil, "no such path")
	}
}

// maxTokenLen bounds the bearer token read from a request.
const maxTokenLen = 512

// auth checks the dock's client certificate or bearer token and returns
// its id. A verified client certificate (mutual TLS) is the dock it names
// (pki.IdentityOf); a dock header or bearer token sent as well must agree
// with it.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) (string, bool) {
	dock := r.Header.Get(upload.HeaderDock)
	authz := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(authz, " ")
	if r.TLS != nil {
		if id, ok := pki.PeerIdentity(*r.TLS); ok {
			return s.certAuth(w, r, id, dock, authz, scheme, token)
		}
	}
	if s.requireCert {
		s.reject(w, r, "", http.StatusUnauthorized, upload.ReasonUnauthorized, nil, "a client certificate from the machine CA is required")
		return "", false
	}
	if wire.ValidID(dock) != nil || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > maxTokenLen {
		w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
		s.reject(w, r, "", http.StatusUnauthorized, upload.ReasonUnauthorized, nil, "missing or malformed dock credentials")
		return "", false
	}
	ok, err := s.store.CheckDockToken(r.Context(), dock, token)
	if err != nil {
		s.fail(w, r, dock, "check dock token", err)
		return "", false
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
		s.reject(w, r, dock, http.StatusUnauthorized, upload.ReasonUnauthorized, nil, "unknown dock or wrong token")
		return "", false
	}
	return dock, true
}

func (s *Server) certAuth(w http.ResponseWriter, r *http.Request, id pki.Identity, dock, authz, scheme, token string) (string, bool) {
	refuse := func(why string) (string, bool) {
		s.reject(w, r, id.ID, http.StatusUnauthorized, upload.ReasonUnauthorized, nil, why)
		return "", false
	}
	if id.Kind != pki.KindDock {
		return refuse("a " + id.Kind + " certificate is not a dock's")
	}
	if dock != "" && dock != id.ID {
		return refuse("the dock header names another dock than the client certificate")
	}
	var ok bool
	var err error
	if authz != "" {
		if !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > maxTokenLen {
			return refuse("malformed bearer token beside a client certificate")
		}
		ok, err = s.store.CheckDockToken(r.Context(), id.ID, token)
	} else {
		ok, err = s.store.DockEnrolled(r.Context(), id.ID)
	}
	if err != nil {
		s.fail(w, r, id.ID, "check dock", err)
		return "", false
	}
	if !ok {
		return refuse("the client certificate's dock is not enrolled, or its token disagrees")
	}
	return id.ID, true
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request, dock, allow string) {
	w.Header().Set("Allow", allow)
	s.reject(w, r, dock, http.StatusMethodNotAllowed, upload.ReasonMethod, nil, r.Method+" not allowed here")
}

// uploadIDLen is the length of an upload id in hex digits.
const uploadIDLen = 32

func validUploadID(id string) bool {
	return len(id) == uploadIDLen && evidence.ValidStagingID(id) == nil
}

// uploadID derives the upload id of dock's upload of one segment, so that
// creating it again finds the same staging area.
func uploadID(dock string, cr upload.CreateRequest) string {
	h := sha256.New()
	fmt.Fprintf(h, "berth-upload-v1\x00%s\x00%s\x00%d\x00%s\x00%d", dock, cr.Device, cr.Seq, cr.SHA256, cr.Size)
	return hex.EncodeToString(h.Sum(nil))[:uploadIDLen]
}
