package collector

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	ev      *evidence.FS
	st      *store.Store
	viewers []Viewer
	served  *prometheus.CounterVec
}

func newFootageServer(ev *evidence.FS, st *store.Store, viewers []Viewer, reg prometheus.Registerer) (*footageServer, error) {
	f := &footageServer{ev: ev, st: st, served: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "berth_footage_access_total", Help: "Footage link requests by outcome (every one is in the footage access log).",
	}, []string{"outcome"})}
	for i, v := range viewers {
		if v.Token == "" && v.TokenFile != "" {
			b, err := os.ReadFile(v.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("collector: viewers[%d] token: %w", i, err)
			}
			v.Token = strings.TrimSpace(string(b))
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
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "footage is read-only", http.StatusMethodNotAllowed)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, FootagePath+"/")
	if evidence.ValidObjectID(id) != nil {
		f.served.WithLabelValues("bad_id").Inc()
		http.Error(w, "not an evidence object id", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	v, ok := f.viewer(r)
	rec := store.FootageAccess{Viewer: v.Name, Role: v.Role, ObjectID: id, Action: "view", Remote: r.RemoteAddr}
	refuse := func(code int, outcome, reason string) {
		rec.Reason = reason
		if err := f.st.RecordAccess(ctx, rec); err != nil {
			code, reason = http.StatusInternalServerError, "access log unavailable"
		}
		f.served.WithLabelValues(outcome).Inc()
		http.Error(w, reason, code)
	}
	if !ok {
		rec.Viewer = "anonymous"
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
