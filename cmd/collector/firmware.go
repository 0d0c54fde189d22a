package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/berthdock/berth/agent/firmware"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

const firmwareUsage = `usage: collector firmware campaign create --id ID --image FILE --manifest FILE --vendor-key B64 (--serials S1,S2 | --percent N) --by NAME [--db DSN]
       collector firmware campaign advance ID [--db DSN]      (pilot -> every recorder of the model)
       collector firmware campaign status ID [--db DSN] [--json]
       collector firmware campaign list [--db DSN]
       collector firmware campaign manifest ID [--db DSN]     (the vendor-signed manifest, for the docks)
       collector firmware campaign dock-config ID --vendor-key B64 [--dir DIR] [--db DSN]
A campaign installs a vendor-signed image (DockLink §17) on the pilot recorders first (listed, or a
percentage of the recorders of the model seen so far), then, once advanced, on every recorder of the
model. Docks run the stage dock-config prints (dockd.yaml's firmware section, with the image and the
manifest copied to DIR) and report each recorder's progress, which status shows.
`

// runFirmware manages firmware campaigns.
func runFirmware(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "campaign" {
		fmt.Fprint(stderr, firmwareUsage)
		return 2
	}
	sub, args := args[1], args[2:]
	fs := flag.NewFlagSet("firmware campaign "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, firmwareUsage); fs.PrintDefaults() }
	dsn := fs.String("db", defaultDSN, "collector store: SQLite file or postgres:// URL")
	var id, image, manifest, vendorKey, serials, by, dir *string
	var percent *float64
	var asJSON *bool
	switch sub {
	case "create":
		id = fs.String("id", "", "campaign id")
		image = fs.String("image", "", "the image file")
		manifest = fs.String("manifest", "", "the vendor's signed manifest (JSON)")
		vendorKey = fs.String("vendor-key", "", "the vendor's Ed25519 public key, base64")
		serials = fs.String("serials", "", "pilot recorders, comma-separated")
		percent = fs.Float64("percent", 0, "pilot: this share of the recorders of the model seen so far")
		by = fs.String("by", "", "who creates the campaign")
	case "status":
		asJSON = fs.Bool("json", false, "one JSON object per recorder")
	case "dock-config":
		vendorKey = fs.String("vendor-key", "", "the vendor's Ed25519 public key, base64")
		dir = fs.String("dir", "/var/lib/berth/firmware", "where the docks keep the image and the manifest")
	case "advance", "list", "manifest":
	default:
		fmt.Fprintf(stderr, "collector firmware campaign: unknown subcommand %q\n%s", sub, firmwareUsage)
		return 2
	}
	// Flags may come before or after the campaign id.
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
	needID := sub == "advance" || sub == "status" || sub == "manifest" || sub == "dock-config"
	if needID != (len(pos) == 1) || !needID && len(pos) > 0 {
		fs.Usage()
		return 2
	}
	st, err := store.Open(ctx, *dsn, &store.Opts{Logger: discardLogger()})
	if err != nil {
		fmt.Fprintln(stderr, "collector firmware:", err)
		return 1
	}
	defer st.Close()
	fail := func(err error) int {
		fmt.Fprintln(stderr, "collector firmware:", err)
		if errors.Is(err, store.ErrArgument) || errors.Is(err, firmware.ErrManifest) || errors.Is(err, firmware.ErrConfig) {
			return 2
		}
		return 1
	}
	switch sub {
	case "create":
		c, err := newCampaign(ctx, st, *id, *image, *manifest, *vendorKey, *serials, *percent, *by)
		if err != nil {
			return fail(err)
		}
		if err := st.CreateFirmwareCampaign(ctx, c); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "campaign %s: %s %s on %d pilot recorders: %s\n", c.ID, c.Model, c.Version, len(c.Pilot), strings.Join(c.Pilot, ", "))
	case "advance":
		if err := st.AdvanceFirmwareCampaign(ctx, pos[0]); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "campaign %s: every recorder of the model\n", pos[0])
	case "list":
		cs, err := st.FirmwareCampaigns(ctx)
		if err != nil {
			return fail(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tMODEL\tVERSION\tSTAGE\tPILOT\tCREATED")
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", c.ID, c.Model, c.Version, c.Stage, len(c.Pilot), c.Created.Format("2006-01-02 15:04"))
		}
		tw.Flush()
	case "status":
		return campaignStatus(ctx, st, pos[0], *asJSON, stdout, stderr)
	case "manifest":
		c, err := st.FirmwareCampaignByID(ctx, pos[0])
		if err != nil {
			return fail(err)
		}
		b, _ := json.MarshalIndent(manifestOf(c), "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	case "dock-config":
		c, err := st.FirmwareCampaignByID(ctx, pos[0])
		if err != nil {
			return fail(err)
		}
		if _, err := firmware.ParseVendorKey(*vendorKey); err != nil {
			return fail(fmt.Errorf("%w: --vendor-key: %w", store.ErrArgument, err))
		}
		cfg := struct {
			Firmware firmware.Config `yaml:"firmware"`
		}{firmware.Config{VendorKey: *vendorKey, Campaigns: []firmware.CampaignConfig{{ID: c.ID,
			Image: filepath.Join(*dir, c.ID+".bin"), Manifest: filepath.Join(*dir, c.ID+".json"), Serials: c.Targets()}}}}
		b, err := yaml.Marshal(cfg)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "# campaign %s, stage %s: copy %s to %s and `collector firmware campaign manifest %s` to %s\n%s",
			c.ID, c.Stage, c.Image, cfg.Firmware.Campaigns[0].Image, c.ID, cfg.Firmware.Campaigns[0].Manifest, b)
	}
	return 0
}

// newCampaign verifies the image against its manifest and the vendor key
// and picks the pilot recorders.
func newCampaign(ctx context.Context, st *store.Store, id, image, manifest, vendorKey, serials string, percent float64, by string) (store.FirmwareCampaign, error) {
	if id == "" || image == "" || manifest == "" || by == "" {
		return store.FirmwareCampaign{}, fmt.Errorf("%w: --id, --image, --manifest and --by are required", store.ErrArgument)
	}
	if (serials == "") == (percent == 0) || percent < 0 || percent > 100 {
		return store.FirmwareCampaign{}, fmt.Errorf("%w: give the pilot as --serials or as --percent in (0, 100]", store.ErrArgument)
	}
	vendor, err := firmware.ParseVendorKey(vendorKey)
	if err != nil {
		return store.FirmwareCampaign{}, fmt.Errorf("%w: --vendor-key: %w", store.ErrArgument, err)
	}
	img, err := firmware.LoadImage(image, manifest, vendor)
	if err != nil {
		return store.FirmwareCampaign{}, err
	}
	abs, err := filepath.Abs(image)
	if err != nil {
		return store.FirmwareCampaign{}, err
	}
	o := img.Offer
	c := store.FirmwareCampaign{ID: id, Model: o.Model, Version: o.Version, Size: int64(o.Size), SHA256: hex.EncodeToString(o.SHA256[:]),
		Signature: base64.StdEncoding.EncodeToString(o.Signature[:]), Image: abs, CreatedBy: by}
	if serials != "" {
		for _, s := range strings.Split(serials, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.Pilot = append(c.Pilot, s)
			}
		}
		c.Pilot = slices.Compact(slices.Sorted(slices.Values(c.Pilot)))
		return c, nil
	}
	devs, err := st.Devices(ctx)
	if err != nil {
		return c, err
	}
	var model []string
	for _, d := range devs {
		if d.Model == o.Model {
			model = append(model, d.Serial)
		}
	}
	if len(model) == 0 {
		return c, fmt.Errorf("%w: no recorder of model %q has docked yet: give the pilot as --serials", store.ErrArgument, o.Model)
	}
	c.Pilot = pilotShare(id, model, percent)
	return c, nil
}

// pilotShare picks ceil(percent % of serials), at least one, in an order
// fixed by the campaign id (SHA-256 of id and serial), so a campaign's
// pilot does not depend on the order recorders were seen in.
func pilotShare(id string, serials []string, percent float64) []string {
	key := func(s string) string {
		h := sha256.Sum256([]byte(id + "\x00" + s))
		return string(h[:])
	}
	sorted := slices.Clone(serials)
	slices.SortFunc(sorted, func(a, b string) int { return strings.Compare(key(a), key(b)) })
	n := int((float64(len(sorted))*percent + 99.999999) / 100)
	n = min(max(n, 1), len(sorted))
	out := sorted[:n]
	slices.Sort(out)
	return out
}

func manifestOf(c store.FirmwareCampaign) firmware.Manifest {
	return firmware.Manifest{Model: c.Model, Version: c.Version, Size: uint64(c.Size), SHA256: c.SHA256, Signature: c.Signature}
}

// campaignStatus prints each targeted recorder's latest report, and the
// targets that have not reported yet.
func campaignStatus(ctx context.Context, st *store.Store, id string, asJSON bool, stdout, stderr io.Writer) int {
	c, err := st.FirmwareCampaignByID(ctx, id)
	if err != nil {
		fmt.Fprintln(stderr, "collector firmware:", err)
		return 1
	}
	prog, err := st.FirmwareProgress(ctx, id)
	if err != nil {
		fmt.Fprintln(stderr, "collector firmware:", err)
		return 1
	}
	reported := map[string]bool{}
	counts := map[string]int{}
	for _, p := range prog {
		reported[p.Serial] = true
		counts[p.State]++
	}
	var waiting []string
	targets := c.Targets()
	if targets == nil {
		devs, err := st.Devices(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "collector firmware:", err)
			return 1
		}
		for _, d := range devs {
			if d.Model == c.Model {
				targets = append(targets, d.Serial)
			}
		}
	}
	for _, s := range targets {
		if !reported[s] {
			waiting = append(waiting, s)
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, p := range prog {
			enc.Encode(map[string]any{"campaign": p.Campaign, "serial": p.Serial, "dock": p.Dock, "state": p.State,
				"running": p.Running, "held": p.Held, "size": p.Size, "detail": p.Detail, "at": p.At})
		}
		for _, s := range waiting {
			enc.Encode(map[string]any{"campaign": id, "serial": s, "state": "waiting"})
		}
		return 0
	}
	fmt.Fprintf(stdout, "campaign %s: %s %s, stage %s (%d pilot recorders)\n", c.ID, c.Model, c.Version, c.Stage, len(c.Pilot))
	var parts []string
	for _, s := range []string{wire.FwInstalled, wire.FwRolledBack, wire.FwRejected, wire.FwRefused, wire.FwFailed, wire.FwTransferring, wire.FwRebooting} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	parts = append(parts, fmt.Sprintf("%d waiting to dock", len(waiting)))
	fmt.Fprintln(stdout, strings.Join(parts, ", "))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tSTATE\tRUNNING\tPROGRESS\tDOCK\tAT\tDETAIL")
	for _, p := range prog {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d%%\t%s\t%s\t%s\n", p.Serial, p.State, p.Running, p.Held*100/max(p.Size, 1), p.Dock,
			p.At.Format("2006-01-02 15:04:05"), p.Detail)
	}
	for _, s := range waiting {
		fmt.Fprintf(tw, "%s\twaiting\t\t\t\t\t\n", s)
	}
	tw.Flush()
	return 0
}
