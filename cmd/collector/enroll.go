package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/store"
)

const enrollUsage = `usage: collector enroll unit     --db DSN --id UNIT [--name TEXT] [--custodian PERSON] --by NAME
       collector enroll dock     --db DSN --id DOCK --unit UNIT --token-file FILE [--receipt-key FILE] [--ca DIR [--out-dir DIR]] --by NAME
       collector enroll recorder --db DSN --serial SERIAL --unit UNIT (--key BASE64 | --key-file FILE) --by NAME
       collector enroll list     --db DSN [--unit UNIT]
       collector enroll export   --db DSN --unit UNIT [--out FILE]
       collector enroll ca init  --ca DIR
       collector enroll server   --ca DIR --host NAME[,NAME|IP...] [--out-dir DIR]
       collector enroll collector --ca DIR --name NAME [--out-dir DIR]
       collector enroll revoke   dock|collector ID --ca DIR

export writes the unit's recorder keys as the dock's enrolled_devices file
({"serial": "base64 Ed25519 public key"}), so a dock authenticates exactly
the recorders the registry binds to its unit.

A dock's token file is created (mode 0600, a random token) when it does not
exist; an existing one readable by group or others is refused. The dock is
configured with the same file (dockd: token_file) and its id.

Machine certificates (mutual TLS) come from a small CA in DIR (ca.crt, and
ca.key which must be mode 0600). With --ca, enroll dock also issues the
dock's client certificate (identity berth:dock:ID, CN ID) into --out-dir
(default: the current directory) and prints its paths in the fragment.
enroll server issues the collector's (or the broker's) server certificate;
enroll collector a collector's client certificate for a broker that
requires one (CN NAME, which must be "collector" or start with "collector-":
deploy/cloud/acl grants each collector's name its rights, and Mosquitto
makes the CN its one client id). Dock ids are never in that name space.

revoke puts every certificate issued to the dock (or collector) on the CA's
revocation list, DIR/ca.crl: the collector (crl_file) refuses it at the next
handshake, on the upload endpoint and the embedded broker's mutual-TLS
listener; Mosquitto (crlfile) after a reload (SIGHUP). The CA directory's issued.log
records what was issued to whom.
`

// runEnroll edits the enrolment registry in the collector's store: who may
// report and upload, and for which recorders.
func runEnroll(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, enrollUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("enroll "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, enrollUsage); fs.PrintDefaults() }
	dsn := fs.String("db", defaultDSN, "collector store: SQLite file or postgres:// URL")
	by := fs.String("by", "", "who enrols (required; recorded with the enrolment)")
	id := fs.String("id", "", "unit or dock id")
	unit := fs.String("unit", "", "unit")
	custodian := fs.String("custodian", "", "unit's equipment custodian")
	tokenFile := fs.String("token-file", "", "dock's token file (created 0600 when missing)")
	serial := fs.String("serial", "", "recorder's serial")
	key := fs.String("key", "", "recorder's Ed25519 public key, base64")
	keyFile := fs.String("key-file", "", "file holding the recorder's Ed25519 public key, base64")
	out := fs.String("out", "", "export: write to this file (mode 0640) instead of standard output")
	receiptKey := fs.String("receipt-key", "", "dock: the collector's receipt signing key file, to print the public key docks trust")
	caDir := fs.String("ca", "", "directory of the machine CA (ca.crt, ca.key)")
	outDir := fs.String("out-dir", ".", "where issued certificates and keys are written")
	hosts := fs.String("host", "", "server: comma-separated DNS names or IP addresses")
	certName := fs.String("name", "", "unit's name; collector: the collector's name")
	switch sub {
	case "unit", "dock", "recorder", "list", "export":
	case "ca", "server", "collector", "revoke":
		rest := args
		var revoking []string
		if sub == "revoke" && len(args) >= 2 && !strings.HasPrefix(args[0], "-") {
			revoking, rest = args[:2], args[2:] // revoke dock ID --ca DIR
		}
		if sub == "ca" {
			if len(args) == 0 || args[0] != "init" {
				fmt.Fprintf(stderr, "collector enroll ca: want \"ca init\"\n%s", enrollUsage)
				return 2
			}
			rest = args[1:]
		}
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		pos := fs.Args()
		if sub == "ca" {
			pos = append([]string{"init"}, pos...)
		} else if sub == "revoke" {
			pos = append(revoking, pos...)
		} else if len(pos) > 0 {
			fmt.Fprintf(stderr, "collector enroll %s: unexpected argument %q\n", sub, pos[0])
			return 2
		}
		if err := runCertCommand(sub, pos, *caDir, *outDir, *hosts, *certName, stdout); err != nil {
			fmt.Fprintf(stderr, "collector enroll %s: %v\n", sub, err)
			if errors.Is(err, store.ErrArgument) || errors.Is(err, collector.ErrSecretMode) {
				return 2
			}
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "collector enroll: unknown subcommand %q\n%s", sub, enrollUsage)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "collector enroll %s: unexpected argument %q\n", sub, fs.Arg(0))
		return 2
	}
	if sub != "list" && sub != "export" && *by == "" {
		fmt.Fprintf(stderr, "collector enroll %s: --by is required: every enrolment records who made it\n", sub)
		return 2
	}
	st, err := store.Open(ctx, *dsn, &store.Opts{Logger: discardLogger()})
	if err != nil {
		fmt.Fprintf(stderr, "collector enroll: %v\n", err)
		return 1
	}
	defer st.Close()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "collector enroll %s: %v\n", sub, err)
		if errors.Is(err, store.ErrArgument) || errors.Is(err, store.ErrNotFound) || errors.Is(err, collector.ErrSecretMode) {
			return 2
		}
		return 1
	}
	switch sub {
	case "unit":
		if err := st.EnrollUnit(ctx, store.Unit{ID: *id, Name: *certName, Custodian: *custodian}, *by); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "unit %s enrolled (custodian %q) by %s\n", *id, *custodian, *by)
	case "dock":
		if *tokenFile == "" {
			return fail(fmt.Errorf("%w: --token-file is required", store.ErrArgument))
		}
		tok, err := dockToken(*tokenFile)
		if err != nil {
			return fail(err)
		}
		if err := st.EnrollDockBy(ctx, *id, *unit, tok, *by); err != nil {
			return fail(err)
		}
		frag, err := dockFragment(*id, *unit, *tokenFile, *receiptKey)
		if err != nil {
			return fail(err)
		}
		if *caDir != "" {
			tlsFrag, err := issueDock(*caDir, *outDir, *id)
			if err != nil {
				return fail(err)
			}
			frag += tlsFrag
		}
		fmt.Fprintf(stdout, "# dock %s enrolled in unit %s by %s; its dockd.yaml fragment:\n%s", *id, *unit, *by, frag)
	case "recorder":
		b64 := *key
		if *keyFile != "" {
			if b64 != "" {
				return fail(fmt.Errorf("%w: --key and --key-file exclude each other", store.ErrArgument))
			}
			b, err := os.ReadFile(*keyFile)
			if err != nil {
				return fail(err)
			}
			b64 = strings.TrimSpace(string(b))
		}
		pub, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return fail(fmt.Errorf("%w: the recorder's key must be base64 of a %d-byte Ed25519 public key", store.ErrArgument, ed25519.PublicKeySize))
		}
		if err := st.EnrollRecorder(ctx, store.Recorder{Serial: *serial, Unit: *unit, PublicKey: pub}, *by); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "recorder %s enrolled in unit %s by %s\n", *serial, *unit, *by)
	case "list":
		return listEnrolment(ctx, st, *unit, stdout, stderr)
	case "export":
		if *unit == "" {
			return fail(fmt.Errorf("%w: --unit is required: a dock takes its own unit's recorders", store.ErrArgument))
		}
		recs, err := st.Recorders(ctx, *unit)
		if err != nil {
			return fail(err)
		}
		keys := make(map[string]string, len(recs))
		for _, r := range recs {
			keys[r.Serial] = base64.StdEncoding.EncodeToString(r.PublicKey)
		}
		b, err := json.MarshalIndent(keys, "", "  ")
		if err != nil {
			return fail(err)
		}
		b = append(b, '\n')
		if *out == "" {
			_, err = stdout.Write(b)
		} else {
			err = os.WriteFile(*out, b, 0o640)
		}
		if err != nil {
			return fail(err)
		}
		if *out != "" {
			fmt.Fprintf(stderr, "%d recorders of unit %s written to %s (dockd: enrolled_devices)\n", len(keys), *unit, *out)
		}
	}
	return 0
}

// dockToken reads the dock's token file, or creates it with a random token.
func dockToken(path string) (string, error) {
	tok, err := collector.ReadSecretFile(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return tok, err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok = hex.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(tok + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return tok, err
}

func listEnrolment(ctx context.Context, st *store.Store, unit string, stdout, stderr io.Writer) int {
	units, err := st.Units(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "collector enroll list: %v\n", err)
		return 1
	}
	docks, err := st.Docks(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "collector enroll list: %v\n", err)
		return 1
	}
	recs, err := st.Recorders(ctx, unit)
	if err != nil {
		fmt.Fprintf(stderr, "collector enroll list: %v\n", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tID\tUNIT\tDETAIL\tENROLLED BY")
	for _, u := range units {
		if unit == "" || u.ID == unit {
			fmt.Fprintf(tw, "unit\t%s\t%s\tcustodian %s\t%s\n", u.ID, u.ID, u.Custodian, u.EnrolledBy)
		}
	}
	for _, d := range docks {
		if d.Enrolled && (unit == "" || d.Unit == unit) {
			fmt.Fprintf(tw, "dock\t%s\t%s\t\t\n", d.ID, d.Unit)
		}
	}
	for _, r := range recs {
		fmt.Fprintf(tw, "recorder\t%s\t%s\tkey %s\t%s\n", r.Serial, r.Unit, base64.StdEncoding.EncodeToString(r.PublicKey), r.EnrolledBy)
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

// dockFragment is the part of dockd.yaml that enrolment decides.
func dockFragment(dock, unit, tokenFile, receiptKeyFile string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "dock: %s\nunit: %s\nenrolled_devices: recorders.json  # collector enroll export --unit %s --out recorders.json\ncollector:\n  token_file: %s\n",
		dock, unit, unit, tokenFile)
	if receiptKeyFile != "" {
		seed, err := collector.ReadSecretFile(receiptKeyFile)
		if err != nil {
			return "", err
		}
		raw, err := base64.StdEncoding.DecodeString(seed)
		if err != nil || len(raw) != ed25519.SeedSize {
			return "", fmt.Errorf("%w: %s is not a receipt signing key (base64 Ed25519 seed)", store.ErrArgument, receiptKeyFile)
		}
		pub := ed25519.NewKeyFromSeed(raw).Public().(ed25519.PublicKey)
		fmt.Fprintf(&b, "  public_key: %s\n", base64.StdEncoding.EncodeToString(pub))
	}
	return b.String(), nil
}
