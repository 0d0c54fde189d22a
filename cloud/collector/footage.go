package collector

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
)

// FootagePath is where the collector serves evidence objects to viewers:
// FootagePath + "/" + object id (the alerts' clip links point here).
const FootagePath = "/v1/evidence"

// Roles (DESIGN: officer, auxiliary, custodian, supervisor, admin). Only a
// supervisor may view footage through the collector: auxiliary staff and
// custodians (who may be auxiliary staff) maintain equipment and never
// touch footage (rule 6), and copies for prosecutors or courts go through
// the responsible section, not this link (rule 5).
const (
	RoleOfficer    = "officer"
	RoleAuxiliary  = "auxiliary"
	RoleCustodian  = "custodian"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
)

var footageRoles = map[string]bool{RoleSupervisor: true}

var knownRoles = map[string]bool{RoleOfficer: true, RoleAuxiliary: true, RoleCustodian: true, RoleSupervisor: true, RoleAdmin: true}

// Viewer is a person allowed to call the collector's footage link, by
// bearer token.
type Viewer struct {
	Name      string `yaml:"name"`
	Role      string `yaml:"role"`
	TokenFile string `yaml:"token_file"`
	Token     string `yaml:"-"` // set by programs and tests, never read from YAML
}

// footageServer serves evidence objects to viewers, recording every access
// (granted or refused) in the store before answering.
type footageServer struct {
	ev      evidence.Store
	st      *store.Store
	viewers []Viewer
	served  *prometheus.CounterVec
	// anon paces the access records of anonymous refusals; the ones over
	// the pace are counted in suppressed and folded into the next record.
	anon       *rate.Limiter
	suppressed atomic.Int64
}

// loggable bounds s to n bytes of valid UTF-8 without NULs, so any request
// can be written to the access log.
func loggable(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "?"), "\x00", "?")
}

func newFootageServer(ev evidence.Store, st *store.Store, viewers []Viewer, reg prometheus.Registerer) (*footageServer, error) {
	f := &footageServer{ev: ev, st: st, anon: rate.NewLimiter(5, 20), served: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_footage_access_total", Help: "Footage link requests by outcome (every one is in the footage access log).",
	}, []string{"outcome"})}
	for i, v := range viewers {
		if v.Token == "" && v.TokenFile != "" {
			tok, err := ReadSecretFile(v.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("collector: viewers[%d] token: %w", i, err)
			}
			v.Token = tok
		}
		if v.Name == "" || !knownRoles[v.Role] || len(v.Token) < 16 {
			return nil, fmt.Errorf("collector: viewers[%d]: want a name, a role (officer, auxiliary, custodian, supervisor, admin) and a token of 16+ characters", i)
		}
		f.viewers = append(f.viewers, v)
	}
	if reg != nil {
		if err := reg.Register(f.served); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *footageServer) viewer(r *http.Request) (Viewer, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return Viewer{}, false
	}
	for _, v := range f.viewers {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(v.Token)) == 1 {
			return v, true
		}
	}
	return Viewer{}, false
}

func (f *footageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	id := strings.TrimPrefix(r.URL.Path, FootagePath+"/")
	v, ok := f.viewer(r)
	// Every request is on record, whatever its outcome (rule 5), with
	// what the client sent bounded and made storable.
	rec := store.FootageAccess{Viewer: v.Name, Role: v.Role, ObjectID: loggable(id, 200), Action: "view", Remote: loggable(r.RemoteAddr, 64)}
	if !ok {
		rec.Viewer = "anonymous"
	}
	refuse := func(code int, outcome, reason string) {
		rec.Reason = reason
		if !ok && !f.anon.Allow() {
			// An anonymous flood: one record stands for the many.
			f.suppressed.Add(1)
			f.served.WithLabelValues(outcome).Inc()
			http.Error(w, reason, code)
			return
		}
		if n := f.suppressed.Swap(0); n > 0 {
			rec.Reason += fmt.Sprintf(" (and %d more anonymous requests refused since the last record)", n)
		}
		if err := f.st.RecordAccess(ctx, rec); err != nil {
			code, reason = http.StatusInternalServerError, "access log unavailable"
		}
		f.served.WithLabelValues(outcome).Inc()
		http.Error(w, reason, code)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		refuse(http.StatusMethodNotAllowed, "bad_method", "footage is read-only: "+loggable(r.Method, 16)+" refused")
		return
	}
	if _, _, err := evidence.ParseRef(id); err != nil { // an object id, or id@version
		refuse(http.StatusBadRequest, "bad_id", "not an evidence object id")
		return
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="berth footage"`)
		refuse(http.StatusUnauthorized, "unauthenticated", "a viewer's token is required")
		return
	}
	if !footageRoles[v.Role] {
		refuse(http.StatusForbidden, "forbidden", "role "+v.Role+" may not view footage")
		return
	}
	obj, err := f.ev.Stat(ctx, id)
	if err != nil {
		if errors.Is(err, evidence.ErrNotFound) {
			refuse(http.StatusNotFound, "not_found", "no such evidence object")
		} else {
			refuse(http.StatusInternalServerError, "error", "evidence store: "+err.Error())
		}
		return
	}
	body, err := f.ev.Open(ctx, id)
	if err != nil {
		refuse(http.StatusInternalServerError, "error", "evidence store: "+err.Error())
		return
	}
	defer body.Close()
	rec.Granted = true
	rec.Reason = fmt.Sprintf("%s %s", r.Method, r.Header.Get("Range"))
	// The access is on record before a byte of footage leaves.
	if err := f.st.RecordAccess(ctx, rec); err != nil {
		f.served.WithLabelValues("error").Inc()
		http.Error(w, "access log unavailable: footage not served", http.StatusServiceUnavailable)
		return
	}
	f.served.WithLabelValues("served").Inc()
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-SHA256", obj.SHA256)
	http.ServeContent(w, r, id+".mp4", obj.StoredAt, body)
}
