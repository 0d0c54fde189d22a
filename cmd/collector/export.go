package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

const exportUsage = `usage: collector evidence export request SERIAL:SEQ... --unit U --to RECIPIENT --purpose TEXT --by NAME --role ROLE
       collector evidence export approve ID --by NAME --role supervisor --unit U [--reason TEXT]
       collector evidence export refuse ID --by NAME --role supervisor --unit U --reason TEXT
       collector evidence export package ID --out DIR --by NAME --role ROLE
       collector evidence export show ID
       collector evidence export verify DIR --key BASE64-PUBLIC-KEY
  store and evidence: --config FILE, or --db DSN --evidence DIR --signing-key FILE
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
	configPath := fs.String("config", "", "the collector's configuration file")
	dsn := fs.String("db", defaultDSN, "collector store (without --config)")
	evDir := fs.String("evidence", "berth-collector/evidence", "evidence directory (without --config)")
	keyFile := fs.String("signing-key", "berth-collector/receipt.key", "the collector's signing key (without --config)")
	by := fs.String("by", "", "who acts")
	role := fs.String("role", "", "their role")
	unit := fs.String("unit", "", "the unit (request: the footage's; approve/refuse: the supervisor's)")
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
	cfg := &collector.Config{Store: *dsn, Evidence: *evDir, SigningKeyFile: *keyFile}
	if *configPath != "" {
		var err error
		if cfg, err = collector.LoadConfig(*configPath); err != nil {
			fmt.Fprintf(stderr, "collector evidence export: %v\n", err)
			return 2
		}
	}
	var id int64
	if sub != "request" {
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "collector evidence export %s: which export? give its id\n", sub)
			return 2
		}
		v, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "collector evidence export %s: bad id %q\n", sub, pos[0])
			return 2
		}
		id = v
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute) // packaging copies originals
	defer cancel()
	st, err := store.Open(ctx, cfg.Store, &store.Opts{Logger: discardLogger(), Schema: cfg.Schema})
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence export: %v\n", err)
		return 1
	}
	defer st.Close()
	actor := store.Actor{Name: *by, Role: *role, Unit: *unit}
	switch sub {
	case "request":
		var items []store.ExportItem
		for _, p := range pos {
			serial, seqS, ok := strings.Cut(p, ":")
			seq, err := strconv.ParseUint(seqS, 10, 63)
			if !ok || err != nil {
				fmt.Fprintf(stderr, "collector evidence export request: %q is not SERIAL:SEQ\n", p)
				return 2
			}
			items = append(items, store.ExportItem{Serial: serial, Seq: seq})
		}
		id, err = st.RequestExport(ctx, store.Export{Unit: *unit, Recipient: *to, Purpose: *purpose, By: actor, Items: items})
		if err == nil {
			fmt.Fprintf(stdout, "export %d requested: %d segments for %s\n", id, len(items), *to)
		}
	case "approve", "refuse":
		if err = st.DecideExport(ctx, id, actor, sub == "approve", *reason); err == nil {
			fmt.Fprintf(stdout, "export %d %sd by %s\n", id, sub, *by)
		}
	case "package":
		if *out == "" {
			fmt.Fprintln(stderr, "collector evidence export package: --out DIR is required")
			return 2
		}
		key, kerr := collector.LoadOrCreateKey(cfg.SigningKeyFile)
		if kerr != nil {
			fmt.Fprintf(stderr, "collector evidence export package: %v\n", kerr)
			return 1
		}
		ev, eerr := collector.OpenEvidence(ctx, cfg, discardLogger())
		if eerr != nil {
			fmt.Fprintf(stderr, "collector evidence export package: %v\n", eerr)
			return 1
		}
		var m custody.Manifest
		if m, err = (custody.Exporter{Store: st, Evidence: ev, Key: key}).Package(ctx, id, actor, *out); err == nil {
			fmt.Fprintf(stdout, "export %d packaged in %s: %d originals and the signed %s\n", id, *out, len(m.Items), custody.ManifestFile)
		}
	case "show":
		var e store.Export
		if e, err = st.Export(ctx, id); err == nil {
			fmt.Fprintf(stdout, "export %d of unit %s for %s (%s): %s\n", e.ID, e.Unit, e.Recipient, e.Purpose, e.State())
			for _, it := range e.Items {
				fmt.Fprintf(stdout, "  %s #%d  %s\n", it.Serial, it.Seq, it.Object)
			}
			for _, ev := range e.Events {
				fmt.Fprintf(stdout, "  %s  %-9s %s (%s) %s\n", ev.At.Local().Format(time.DateTime), ev.State, ev.By.Name, ev.By.Role, ev.Detail)
			}
		}
	default:
		fmt.Fprintf(stderr, "collector evidence export: unknown subcommand %q\n%s", sub, exportUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence export %s: %v\n", sub, err)
		return 1
	}
	return 0
}
