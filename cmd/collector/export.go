package main

import (
	"archive/zip"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	consoleapi "github.com/berthdock/berth/cloud/console/api"
	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/wire"
)

const exportUsage = `usage: collector evidence export request SERIAL:SEQ... --to RECIPIENT --purpose TEXT
       collector evidence export approve ID [--reason TEXT]      (a supervisor of the unit, not the requester)
       collector evidence export refuse ID --reason TEXT
       collector evidence export package ID --out DIR            (packages an approved export and downloads it)
       collector evidence export show ID
       collector evidence export verify DIR --key BASE64-PUBLIC-KEY
  every step but verify goes through the collector's API as the person whose token it is:
  [--server URL] [--token-file FILE] (or BERTH_TOKEN; collector user token NAME)
`

// runExport is `collector evidence export`: exports with approval (rule 5).
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, exportUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("evidence export "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, exportUsage); fs.PrintDefaults() }
	server := fs.String("server", "http://127.0.0.1:8780", "the collector's URL")
	tokenFile := fs.String("token-file", "", "file holding your API token (default: $BERTH_TOKEN)")
	to := fs.String("to", "", "recipient (request)")
	purpose := fs.String("purpose", "", "why (request)")
	reason := fs.String("reason", "", "reason (refuse; approve optional)")
	out := fs.String("out", "", "package directory to create (package)")
	pubKey := fs.String("key", "", "the collector's base64 public key (verify)")
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if sub == "verify" {
		if len(pos) != 1 {
			fmt.Fprint(stderr, exportUsage)
			return 2
		}
		k, err := base64.StdEncoding.DecodeString(*pubKey)
		if err != nil || len(k) != ed25519.PublicKeySize {
			fmt.Fprintf(stderr, "collector evidence export verify: --key is not a base64 Ed25519 public key\n")
			return 2
		}
		m, err := custody.VerifyPackage(pos[0], wire.ReceiptKeys{ed25519.PublicKey(k)})
		if err != nil {
			fmt.Fprintf(stderr, "collector evidence export verify: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "export %d verifies: %d originals for %s (%s), approved by %s\n", m.Export, len(m.Items), m.Recipient, m.Purpose, m.ApprovedBy.Name)
		return 0
	}
	var id int64
	switch sub {
	case "request":
	case "approve", "refuse", "package", "show":
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "collector evidence export %s: which export? give its id\n", sub)
			return 2
		}
		v, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(stderr, "collector evidence export %s: bad id %q\n", sub, pos[0])
			return 2
		}
		id = v
	default:
		fmt.Fprintf(stderr, "collector evidence export: unknown subcommand %q\n%s", sub, exportUsage)
		return 2
	}
	if sub == "package" && *out == "" {
		fmt.Fprintln(stderr, "collector evidence export package: --out DIR is required")
		return 2
	}
	api, err := newAPIClient(*server, *tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence export %s: %v\n", sub, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute) // packaging copies originals
	defer cancel()
	p := fmt.Sprintf("/api/exports/%d", id)
	var e consoleapi.Export
	switch sub {
	case "request":
		req := consoleapi.ExportRequest{Recipient: *to, Purpose: *purpose}
		for _, s := range pos {
			serial, seqS, ok := strings.Cut(s, ":")
			seq, err := strconv.ParseUint(seqS, 10, 63)
			if !ok || err != nil {
				fmt.Fprintf(stderr, "collector evidence export request: %q is not SERIAL:SEQ\n", s)
				return 2
			}
			req.Items = append(req.Items, consoleapi.Segment{Serial: serial, Seq: seq})
		}
		if err = api.call(ctx, http.MethodPost, "/api/exports", req, &e); err == nil {
			fmt.Fprintf(stdout, "export %d requested: %d segments of unit %s for %s\n", e.ID, len(e.Items), e.Unit, e.Recipient)
		}
	case "approve", "refuse":
		if err = api.call(ctx, http.MethodPost, p+"/"+sub, consoleapi.Reason{Reason: *reason}, &e); err == nil {
			fmt.Fprintf(stdout, "export %d %sd by %s\n", id, sub, e.Events[len(e.Events)-1].By)
		}
	case "package":
		var n int
		if n, err = packageExport(ctx, api, id, *out); err == nil {
			fmt.Fprintf(stdout, "export %d packaged in %s: %d originals and the signed %s\n", id, *out, n, custody.ManifestFile)
		}
	case "show":
		if err = api.call(ctx, http.MethodGet, p, nil, &e); err == nil {
			fmt.Fprintf(stdout, "export %d of unit %s for %s (%s): %s\n", e.ID, e.Unit, e.Recipient, e.Purpose, e.State)
			for _, it := range e.Items {
				fmt.Fprintf(stdout, "  %s #%d  %s\n", it.Serial, it.Seq, it.Object)
			}
			for _, ev := range e.Events {
				fmt.Fprintf(stdout, "  %s  %-9s %s (%s) %s\n", ev.At.Local().Format(time.DateTime), ev.State, ev.By, ev.Role, ev.Detail)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence export %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// packageExport has the collector package an approved export (unless it
// already is) and downloads the package into dir (which must not exist),
// then checks that it holds the originals its manifest names.
func packageExport(ctx context.Context, api *apiClient, id int64, dir string) (int, error) {
	p := fmt.Sprintf("/api/exports/%d", id)
	var e consoleapi.Export
	if err := api.call(ctx, http.MethodGet, p, nil, &e); err != nil {
		return 0, err
	}
	if e.State != "packaged" {
		if err := api.call(ctx, http.MethodPost, p+"/package", nil, nil); err != nil {
			return 0, err
		}
	}
	resp, err := api.send(ctx, http.MethodGet, p+"/package.zip", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if err := os.Mkdir(dir, 0o750); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(dir, ".download-*.zip")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := io.Copy(tmp, resp.Body)
	if err != nil {
		return 0, err
	}
	zr, err := zip.NewReader(tmp, size)
	if err != nil {
		return 0, fmt.Errorf("the package is not a zip: %w", err)
	}
	for _, f := range zr.File {
		name := path.Base(f.Name)
		if name == "." || name == "/" || strings.HasPrefix(name, ".") || f.FileInfo().IsDir() {
			return 0, fmt.Errorf("the package holds an unexpected entry %q", f.Name)
		}
		if err := extract(f, filepath.Join(dir, name)); err != nil {
			return 0, err
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, custody.ManifestFile))
	if err != nil {
		return 0, fmt.Errorf("the package has no manifest: %w", err)
	}
	var m custody.Manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Export != id {
		return 0, fmt.Errorf("the package's manifest is not export %d's (%v)", id, err)
	}
	return len(m.Items), nil
}

func extract(f *zip.File, dst string) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o440)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	if err := w.Sync(); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
