package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/store"
)

const evidenceUsage = `usage: collector evidence access [--config FILE | --db DSN] [--object ID] [--viewer NAME] [--action view|export]
                                  [--since RFC3339] [--until RFC3339] [--limit N] [--json]
       collector evidence hold OBJECT --by NAME --role supervisor|admin --reason TEXT [--config FILE | --db DSN --evidence DIR]
       collector evidence lift-hold OBJECT --by NAME --role supervisor|admin --reason TEXT [...]
       collector evidence holds OBJECT [--config FILE | --db DSN]

OBJECT is an evidence object id (its SHA-256) or a receipt's object (id@version).
The acting person is given with --by and --role until the collector has logins.
`

// runEvidence is the custody tool: the footage access log, and legal holds.
func runEvidence(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, evidenceUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("evidence "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, evidenceUsage); fs.PrintDefaults() }
	configPath := fs.String("config", "", "the collector's configuration file (store and evidence store)")
	dsn := fs.String("db", defaultDSN, "collector store: SQLite file or postgres:// URL (without --config)")
	evDir := fs.String("evidence", "berth-collector/evidence", "evidence directory (without --config)")
	var q store.AccessQuery
	var since, until, by, role, reason string
	var asJSON bool
	switch sub {
	case "access":
		fs.StringVar(&q.ObjectID, "object", "", "only this object")
		fs.StringVar(&q.Viewer, "viewer", "", "only this viewer")
		fs.StringVar(&q.Action, "action", "", "only this action (view, export)")
		fs.StringVar(&since, "since", "", "at or after this time (RFC 3339)")
		fs.StringVar(&until, "until", "", "before this time (RFC 3339)")
		fs.IntVar(&q.Limit, "limit", 1000, "at most this many, oldest first")
		fs.BoolVar(&asJSON, "json", false, "one JSON object per line")
	case "hold", "lift-hold":
		fs.StringVar(&by, "by", "", "who (required)")
		fs.StringVar(&role, "role", "", "their role: supervisor or admin (required)")
		fs.StringVar(&reason, "reason", "", "why (required; recorded)")
	case "holds":
	default:
		fmt.Fprintf(stderr, "collector evidence: unknown subcommand %q\n%s", sub, evidenceUsage)
		return 2
	}
	// Flags may come before or after the object.
	var object string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if sub == "access" || object != "" {
			fmt.Fprintf(stderr, "collector evidence %s: unexpected argument %q\n", sub, fs.Arg(0))
			return 2
		}
		object, rest = fs.Arg(0), fs.Args()[1:]
	}
	if sub != "access" && object == "" {
		fmt.Fprintf(stderr, "collector evidence %s: which object? give its id\n", sub)
		return 2
	}
	for _, t := range []struct {
		s   string
		dst *time.Time
	}{{since, &q.Since}, {until, &q.Until}} {
		if t.s == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.s)
		if err != nil {
			fmt.Fprintf(stderr, "collector evidence access: %v\n", err)
			return 2
		}
		*t.dst = v
	}
	cfg := &collector.Config{Store: *dsn, Evidence: *evDir}
	if *configPath != "" {
		var err error
		if cfg, err = collector.LoadConfig(*configPath); err != nil {
			fmt.Fprintf(stderr, "collector evidence: %v\n", err)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	st, err := store.Open(ctx, cfg.Store, &store.Opts{Logger: discardLogger(), Schema: cfg.Schema})
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence: %v\n", err)
		return 1
	}
	defer st.Close()
	switch sub {
	case "access":
		return listAccess(ctx, st, q, asJSON, stdout, stderr)
	case "holds":
		hs, err := st.Holds(ctx, strings.SplitN(object, "@", 2)[0])
		if err != nil {
			fmt.Fprintf(stderr, "collector evidence holds: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "AT\tHOLD\tBY\tROLE\tREASON")
		for _, h := range hs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.At.Local().Format(time.DateTime), map[bool]string{true: "set", false: "lifted"}[h.Held],
				h.By.Name, h.By.Role, h.Reason)
		}
		tw.Flush()
		return 0
	}
	ev, err := collector.OpenEvidence(ctx, cfg, discardLogger())
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence: %v\n", err)
		return 1
	}
	h := custody.Holds{Store: st, Evidence: ev}
	actor := store.Actor{Name: by, Role: role}
	var how custody.Enforcement
	if sub == "hold" {
		how, err = h.Set(ctx, actor, object, reason)
	} else {
		how, err = h.Lift(ctx, actor, object, reason)
	}
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence %s: %v\n", sub, err)
		return 1
	}
	fmt.Fprintf(stdout, "legal hold on %s %s by %s (%s); enforced by the %s\n", object,
		map[string]string{"hold": "set", "lift-hold": "lifted"}[sub], by, role, how)
	return 0
}

func listAccess(ctx context.Context, st *store.Store, q store.AccessQuery, asJSON bool, stdout, stderr io.Writer) int {
	as, err := st.AccessLog(ctx, q)
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence access: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, a := range as {
			if err := enc.Encode(a); err != nil {
				fmt.Fprintf(stderr, "collector evidence access: %v\n", err)
				return 1
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tVIEWER\tROLE\tACTION\tOBJECT\tGRANTED\tFROM\tREASON")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\n", a.At.Local().Format(time.DateTime), a.Viewer, a.Role, a.Action,
			a.ObjectID, a.Granted, dash(a.Remote), dash(a.Reason))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d accesses\n", len(as))
	return 0
}
