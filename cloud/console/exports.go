package console

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berthdock/berth/cloud/console/api"
	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/store"
)

func (c *Console) exportView(r *request, e store.Export) api.Export {
	x := api.Export{ID: e.ID, Unit: e.Unit, Recipient: e.Recipient, Purpose: e.Purpose, By: e.By.Name, At: e.At, State: e.State(),
		Items: []api.ExportItem{}, Events: []api.ExportEvent{}, Can: []string{}}
	for _, it := range e.Items {
		x.Items = append(x.Items, api.ExportItem{Serial: it.Serial, Seq: it.Seq, Object: it.Object})
	}
	for _, ev := range e.Events {
		x.Events = append(x.Events, api.ExportEvent{State: ev.State, By: ev.By.Name, Role: ev.By.Role, Detail: ev.Detail, At: ev.At})
	}
	mine := r.who.Name == e.By.Name
	supervisor := r.who.Role == "supervisor" && r.who.InScope(e.Unit)
	switch {
	case x.State == store.ExportRequested && supervisor && !mine:
		x.Can = append(x.Can, "approve", "refuse")
	case x.State == store.ExportApproved && (mine || supervisor) && canExport(r.who):
		x.Can = append(x.Can, "package")
	case x.State == store.ExportPackaged && (mine || supervisor) && canExport(r.who):
		x.Can = append(x.Can, "download")
	}
	return x
}

// exportFor loads export {id} if the caller may see it: a supervisor or
// admin of its unit, or its requester.
func (c *Console) exportFor(r *request) (store.Export, error) {
	if !canExport(r.who) {
		return store.Export{}, refuse(http.StatusForbidden, "role "+r.who.Role+" has no exports (rule 6)")
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return store.Export{}, refuse(http.StatusBadRequest, "not an export id")
	}
	e, err := c.o.Store.Export(r.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return e, refuse(http.StatusNotFound, fmt.Sprintf("no export %d", id))
	}
	if err != nil {
		return e, err
	}
	if e.By.Name != r.who.Name && !(r.who.InScope(e.Unit) && canSearchEvidence(r.who)) {
		return e, refuse(http.StatusNotFound, fmt.Sprintf("no export %d", id))
	}
	return e, nil
}

// listExports: the exports of the caller's units (a supervisor's
// approvals among them) and the caller's own requests.
func (c *Console) listExports(r *request) ([]api.Export, error) {
	if !canExport(r.who) {
		return nil, refuse(http.StatusForbidden, "role "+r.who.Role+" has no exports (rule 6)")
	}
	state := r.URL.Query().Get("state")
	var es []store.Export
	if canSearchEvidence(r.who) {
		var err error
		if es, err = c.o.Store.Exports(r.ctx, store.ExportFilter{Units: r.who.Scope(), State: state}); err != nil {
			return nil, err
		}
	}
	own, err := c.o.Store.Exports(r.ctx, store.ExportFilter{By: r.who.Name, State: state})
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	out := []api.Export{}
	for _, e := range append(es, own...) {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, c.exportView(r, e))
		}
	}
	return out, nil
}

// requestExport records a request for segments of one unit, all within
// the caller's units.
func (c *Console) requestExport(r *request, req api.ExportRequest) (store.Export, error) {
	if !canExport(r.who) {
		return store.Export{}, refuse(http.StatusForbidden, "role "+r.who.Role+" may not request an export (rule 6)")
	}
	if len(req.Items) == 0 || len(req.Items) > 1000 {
		return store.Export{}, refuse(http.StatusBadRequest, "an export names 1 to 1000 segments")
	}
	var unit string
	var items []store.ExportItem
	for _, it := range req.Items {
		r.SetPathValue("serial", it.Serial)
		r.SetPathValue("seq", strconv.FormatUint(it.Seq, 10))
		seg, err := c.segmentFor(r)
		if err != nil {
			return store.Export{}, err
		}
		if unit != "" && seg.Unit != unit {
			return store.Export{}, refuse(http.StatusBadRequest, "an export holds the footage of one unit: request one per unit")
		}
		unit = seg.Unit
		items = append(items, store.ExportItem{Serial: it.Serial, Seq: it.Seq})
	}
	id, err := c.o.Store.RequestExport(r.ctx, store.Export{Unit: unit, Recipient: strings.TrimSpace(req.Recipient),
		Purpose: strings.TrimSpace(req.Purpose), By: actor(r.who, unit), Items: items})
	if err != nil {
		return store.Export{}, custodyError(err)
	}
	c.o.Log.Info("console: export requested", "export", id, "by", r.who.Name, "segments", len(items))
	return c.o.Store.Export(r.ctx, id)
}

// decideExport approves or refuses: the store lets only a supervisor of
// the unit who did not request it.
func (c *Console) decideExport(r *request, e store.Export, approve bool, reason string) (store.Export, error) {
	unit := e.Unit
	if !r.who.InScope(unit) {
		unit = ""
	}
	if err := c.o.Store.DecideExport(r.ctx, e.ID, actor(r.who, unit), approve, strings.TrimSpace(reason)); err != nil {
		return e, custodyError(err)
	}
	c.o.Log.Info("console: export decided", "export", e.ID, "approved", approve, "by", r.who.Name)
	return c.o.Store.Export(r.ctx, e.ID)
}

func (c *Console) packageDir(cu *Custody, id int64) string {
	return filepath.Join(cu.ExportDir, fmt.Sprintf("export-%d", id))
}

// packageExport packages an approved export through custody.Exporter
// into the export directory: the originals and the signed manifest.
func (c *Console) packageExport(r *request, e store.Export) (custody.Manifest, error) {
	cu, err := c.custody()
	if err != nil {
		return custody.Manifest{}, err
	}
	if !c.exportView(r, e).CanDo("package") {
		return custody.Manifest{}, refuse(http.StatusForbidden, fmt.Sprintf("export %d is %s: not for you to package now", e.ID, e.State()))
	}
	if cu.ExportDir == "" || cu.Key == nil {
		return custody.Manifest{}, refuse(http.StatusServiceUnavailable, "exports are not configured (no export directory or signing key)")
	}
	if err := os.MkdirAll(cu.ExportDir, 0o750); err != nil {
		return custody.Manifest{}, err
	}
	m, err := custody.Exporter{Store: c.o.Store, Evidence: cu.Evidence, Key: cu.Key, Clock: c.o.Clock}.Package(r.ctx, e.ID,
		actor(r.who, e.Unit), c.packageDir(cu, e.ID))
	if err != nil {
		return m, custodyError(err)
	}
	c.o.Log.Info("console: export packaged", "export", e.ID, "by", r.who.Name, "originals", len(m.Items))
	return m, nil
}

// downloadExport streams a packaged export as a zip (the originals, the
// manifest and its signature, as packaged); each download is in the
// access log, per original, before a byte leaves.
func (c *Console) downloadExport(r *request) error {
	cu, err := c.custody()
	if err != nil {
		return err
	}
	e, err := c.exportFor(r)
	if err != nil {
		return err
	}
	if !c.exportView(r, e).CanDo("download") {
		return refuse(http.StatusForbidden, fmt.Sprintf("export %d is %s: nothing for you to download", e.ID, e.State()))
	}
	dir := c.packageDir(cu, e.ID)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return refuse(http.StatusGone, fmt.Sprintf("export %d's package is not in this console's export directory", e.ID))
	}
	for _, it := range e.Items {
		if err := c.o.Store.RecordAccess(r.ctx, store.FootageAccess{Viewer: r.who.Name, Role: r.who.Role, ObjectID: it.Object,
			Action: "export-download", Granted: true, Reason: fmt.Sprintf("export %d to %s", e.ID, e.Recipient),
			Remote: loggable(r.RemoteAddr)}); err != nil {
			return refuse(http.StatusServiceUnavailable, "access log unavailable: package not served")
		}
	}
	r.w.Header().Set("Content-Type", "application/zip")
	r.w.Header().Set("Cache-Control", "no-store")
	r.w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="export-%d.zip"`, e.ID))
	z := zip.NewWriter(r.w)
	for _, ent := range ents {
		if !ent.Type().IsRegular() {
			continue
		}
		f, err := os.Open(filepath.Join(dir, ent.Name()))
		if err != nil {
			return err
		}
		w, err := z.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("export-%d/%s", e.ID, ent.Name()), Method: zip.Store})
		if err == nil {
			_, err = io.Copy(w, f)
		}
		f.Close()
		if err != nil {
			c.o.Log.Warn("console: export download cut short", "export", e.ID, "err", err)
			return nil // the headers are sent: nothing better to say
		}
	}
	if err := z.Close(); err != nil {
		c.o.Log.Warn("console: export download cut short", "export", e.ID, "err", err)
	}
	return nil
}
