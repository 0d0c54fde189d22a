package custody

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// Manifest describes an export package: what was handed out, to whom, why,
// approved by whom, and each original's hash, size, recording times and
// custody trail. It is signed by the collector (ManifestFile and
// SignatureFile beside the originals).
type Manifest struct {
	Format      string         `json:"format"` // ManifestFormat
	Export      int64          `json:"export"`
	Unit        string         `json:"unit"`
	Recipient   string         `json:"recipient"`
	Purpose     string         `json:"purpose"`
	RequestedBy store.Actor    `json:"requested_by"`
	ApprovedBy  store.Actor    `json:"approved_by"`
	PackagedBy  store.Actor    `json:"packaged_by"`
	Created     time.Time      `json:"created"`
	KeyID       string         `json:"key_id"`
	Items       []ManifestItem `json:"items"`
}

// ManifestItem is one original in the package.
type ManifestItem struct {
	File    string         `json:"file"` // name in the package
	Serial  string         `json:"serial"`
	Seq     uint64         `json:"seq"`
	Object  string         `json:"object"` // the receipt's object (id@version on S3)
	SHA256  string         `json:"sha256"`
	Size    int64          `json:"size"`
	Start   time.Time      `json:"start"` // recording start, drift-corrected
	End     time.Time      `json:"end"`
	Officer string         `json:"officer"`
	CaseTag string         `json:"case_tag"`
	Custody []CustodyEntry `json:"custody"`
}

// CustodyEntry is one event of an object's custody trail.
type CustodyEntry struct {
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Role   string    `json:"role"`
	Action string    `json:"action"` // received, hold, hold-lifted, case-link, view, export-...
	Detail string    `json:"detail"`
}

// Package files and format.
const (
	ManifestFile   = "manifest.json"
	SignatureFile  = "manifest.sig" // base64 Ed25519 over manifest.json's bytes
	ManifestFormat = "berth-export-v1"
)

// Errors of packages.
var (
	ErrPackage = errors.New("custody: export package does not verify")
)

// Exporter packages approved exports.
type Exporter struct {
	Store    *store.Store
	Evidence evidence.Store
	Key      ed25519.PrivateKey // the collector's receipt key
	Clock    clockwork.Clock    // stamps manifests; nil: the real clock
}

// Package writes approved export id into dir (which must not exist): each
// original, copied from the evidence store by the receipt's version and
// verified against its SHA-256 while copied, and the signed manifest.
// Only then is the export recorded as packaged, with the manifest kept in
// the store (the copy kept); every step is in the access log.
func (x Exporter) Package(ctx context.Context, id int64, by store.Actor, dir string) (Manifest, error) {
	e, err := x.Store.Export(ctx, id)
	if err != nil {
		return Manifest{}, err
	}
	if e.State() != store.ExportApproved {
		return Manifest{}, fmt.Errorf("%w: export %d is %s", store.ErrExportState, id, e.State())
	}
	m := Manifest{Format: ManifestFormat, Export: id, Unit: e.Unit, Recipient: e.Recipient, Purpose: e.Purpose, RequestedBy: e.By,
		ApprovedBy: e.Events[len(e.Events)-1].By, PackagedBy: by, Created: x.now(),
		KeyID: wire.KeyID(x.Key.Public().(ed25519.PublicKey))}
	if err := os.Mkdir(dir, 0o750); err != nil {
		return Manifest{}, fmt.Errorf("custody: package: %w", err)
	}
	for _, it := range e.Items {
		mi, err := x.item(ctx, it, dir)
		if err != nil {
			return Manifest{}, fmt.Errorf("custody: package %s/%d: %w", it.Serial, it.Seq, err)
		}
		m.Items = append(m.Items, mi)
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(x.Key, body))
	for name, b := range map[string][]byte{ManifestFile: body, SignatureFile: []byte(sig + "\n")} {
		if err := writeSynced(filepath.Join(dir, name), b); err != nil {
			return Manifest{}, fmt.Errorf("custody: package: %w", err)
		}
	}
	sum := sha256.Sum256(body)
	if err := x.Store.RecordExportPackaged(ctx, id, by, string(body)+"\n"+sig, "manifest sha256 "+hex.EncodeToString(sum[:])); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

func (x Exporter) now() time.Time {
	if x.Clock == nil {
		return time.Now().UTC()
	}
	return x.Clock.Now().UTC()
}

func (x Exporter) item(ctx context.Context, it store.ExportItem, dir string) (ManifestItem, error) {
	obj, err := x.Evidence.Stat(ctx, it.Object)
	if err != nil {
		return ManifestItem{}, err
	}
	mi := ManifestItem{File: fmt.Sprintf("%s-%d-%s.mp4", it.Serial, it.Seq, obj.ID[:12]), Serial: it.Serial, Seq: it.Seq,
		Object: it.Object, SHA256: obj.ID, Size: obj.Size}
	r, err := x.Evidence.Open(ctx, it.Object)
	if err != nil {
		return ManifestItem{}, err
	}
	defer r.Close()
	if err := copyVerified(filepath.Join(dir, mi.File), r, obj.ID, obj.Size); err != nil {
		return ManifestItem{}, err
	}
	segs, err := x.Store.Segments(ctx, it.Serial, time.Time{}, time.Time{})
	if err != nil {
		return ManifestItem{}, err
	}
	for _, g := range segs {
		if g.Seq == it.Seq {
			mi.Start, mi.End, mi.Officer, mi.CaseTag = g.CorrectedStart, g.CorrectedEnd, g.Officer, g.CaseTag
		}
	}
	mi.Custody, err = x.trail(ctx, it, obj)
	return mi, err
}

// trail gathers an object's custody: its receipt, holds, case links and
// every access (views, earlier exports, this export's steps), by time.
func (x Exporter) trail(ctx context.Context, it store.ExportItem, obj evidence.Object) ([]CustodyEntry, error) {
	var out []CustodyEntry
	if r, ok, err := x.Store.Receipt(ctx, it.Serial, it.Seq); err != nil {
		return nil, err
	} else if ok {
		out = append(out, CustodyEntry{At: r.StoredAt, Who: "collector", Role: "system", Action: "received",
			Detail: "receipt " + r.ObjectID + " signed by key " + r.KeyID})
	}
	hs, err := x.Store.Holds(ctx, obj.ID)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		a := "hold"
		if !h.Held {
			a = "hold-lifted"
		}
		out = append(out, CustodyEntry{At: h.At, Who: h.By.Name, Role: h.By.Role, Action: a, Detail: h.Reason})
	}
	ls, err := x.Store.CaseLinks(ctx, it.Serial, it.Seq)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		out = append(out, CustodyEntry{At: l.At, Who: l.By.Name, Role: l.By.Role, Action: "case-link",
			Detail: fmt.Sprintf("case %s party %q: %s", l.Case, l.Party, l.Reason)})
	}
	refs := []string{it.Object}
	if obj.ID != it.Object {
		refs = append(refs, obj.ID)
	}
	for _, ref := range refs {
		as, err := x.Store.AccessLog(ctx, store.AccessQuery{ObjectID: ref})
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			d := a.Reason
			if !a.Granted {
				d = "refused: " + d
			}
			out = append(out, CustodyEntry{At: a.At, Who: a.Viewer, Role: a.Role, Action: a.Action, Detail: d})
		}
	}
	sortEntries(out)
	return out, nil
}

func sortEntries(es []CustodyEntry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].At.Before(es[j-1].At); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// copyVerified copies r to a new file at path, checking size and SHA-256;
// a mismatch removes the file.
func copyVerified(path string, r io.Reader, sum string, size int64) error {
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o440)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), r)
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil && (n != size || hex.EncodeToString(h.Sum(nil)) != sum) {
		err = fmt.Errorf("%w: the original reads back as %d bytes hashing to %x, not %s", evidence.ErrCorrupt, n, h.Sum(nil), sum)
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

func writeSynced(path string, b []byte) error {
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o440)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Close()
		return err
	}
	if err := w.Sync(); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// VerifyPackage checks a package in dir: the manifest's signature against
// one of keys, and every original's size and SHA-256 against the
// manifest. It returns the manifest.
func VerifyPackage(dir string, keys wire.ReceiptKeys) (Manifest, error) {
	body, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: %w", ErrPackage, err)
	}
	sigB, err := os.ReadFile(filepath.Join(dir, SignatureFile))
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: %w", ErrPackage, err)
	}
	sig, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(sigB)))
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: signature: %w", ErrPackage, err)
	}
	ok := false
	for _, k := range keys {
		ok = ok || len(k) == ed25519.PublicKeySize && ed25519.Verify(k, body, sig)
	}
	if !ok {
		return Manifest{}, fmt.Errorf("%w: the manifest's signature does not verify against the collector's keys", ErrPackage)
	}
	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil || m.Format != ManifestFormat {
		return Manifest{}, fmt.Errorf("%w: manifest format %q: %v", ErrPackage, m.Format, err)
	}
	for _, it := range m.Items {
		if filepath.Base(it.File) != it.File || it.File == ManifestFile || it.File == SignatureFile {
			return Manifest{}, fmt.Errorf("%w: file name %q", ErrPackage, it.File)
		}
		f, err := os.Open(filepath.Join(dir, it.File))
		if err != nil {
			return Manifest{}, fmt.Errorf("%w: %w", ErrPackage, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil || n != it.Size || hex.EncodeToString(h.Sum(nil)) != it.SHA256 {
			return Manifest{}, fmt.Errorf("%w: %s: %d bytes hashing to %x, manifest says %d and %s (%v)", ErrPackage, it.File, n,
				h.Sum(nil), it.Size, it.SHA256, err)
		}
	}
	return m, nil
}
