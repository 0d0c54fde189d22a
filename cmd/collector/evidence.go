package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/store"
)

const evidenceUsage = `usage: collector evidence access [--config FILE | --db DSN] [--object ID] [--viewer NAME] [--action view|export]
                                  [--since RFC3339] [--until RFC3339] [--limit N] [--json]
       collector evidence hold SERIAL SEQ --reason TEXT [--server URL] [--token-file FILE]      (supervisor or admin)
       collector evidence lift-hold SERIAL SEQ --reason TEXT [--server URL] [--token-file FILE] (supervisor or admin)
       collector evidence holds OBJECT [--config FILE | --db DSN]
       collector evidence find [--case C] [--party P] [--officer O] [--unit U] [--since T] [--until T] [--limit N] [--json]
       collector evidence export ...   (collector evidence export, for its usage)
       collector evidence link SERIAL SEQ --case C [--type T] [--party P] --reason TEXT [--server URL] [--token-file FILE]
       collector evidence retention apply [--config FILE | --db DSN --evidence DIR]
           (re-extends the object lock of held and case-linked objects, as collector serve does
           every few hours; changes nothing when every lock is in place)

OBJECT is an evidence object id (its SHA-256). hold, lift-hold, link and the export steps
go through the collector's API as the person whose token it is (collector user token NAME;
or set BERTH_TOKEN): nobody acts under a name they type. access, holds and find read the
store of an operator who holds it.
`

// runEvidence is the custody tool: the footage access log, and legal holds.
func runEvidence(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, evidenceUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	if sub == "export" {
		return runExport(ctx, args, stdout, stderr)
	}
	fs := flag.NewFlagSet("evidence "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, evidenceUsage); fs.PrintDefaults() }
	configPath := fs.String("config", "", "the collector's configuration file (store and evidence store)")
	dsn := fs.String("db", defaultDSN, "collector store: SQLite file or postgres:// URL (without --config)")
	evDir := fs.String("evidence", "berth-collector/evidence", "evidence directory (without --config)")
	var q store.AccessQuery
	var cq store.CaseQuery
	var link store.CaseLink
	var since, until, reason, server, tokenFile string
	var asJSON bool
	apiFlags := func() {
		fs.StringVar(&server, "server", "http://127.0.0.1:8780", "the collector's URL")
		fs.StringVar(&tokenFile, "token-file", "", "file holding your API token (default: $BERTH_TOKEN)")
		fs.StringVar(&reason, "reason", "", "why (required; recorded)")
	}
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
		apiFlags()
	case "holds", "retention":
	case "find":
		fs.StringVar(&cq.Case, "case", "", "case number (reported tag or a link)")
		fs.StringVar(&cq.Party, "party", "", "inspected party (a link)")
		fs.StringVar(&cq.Officer, "officer", "", "officer")
		fs.StringVar(&cq.Unit, "unit", "", "the recorder's enrolled unit")
		fs.StringVar(&since, "since", "", "recording started at or after (RFC 3339)")
		fs.StringVar(&until, "until", "", "recording started before (RFC 3339)")
		fs.IntVar(&cq.Limit, "limit", 1000, "at most this many, oldest first")
		fs.BoolVar(&asJSON, "json", false, "one JSON object per line")
	case "link":
		fs.StringVar(&link.Case, "case", "", "case number (required)")
		fs.StringVar(&link.Type, "type", "", "case type (complaint, lawsuit, ...: the retention policy's)")
		fs.StringVar(&link.Party, "party", "", "inspected party")
		apiFlags()
	default:
		fmt.Fprintf(stderr, "collector evidence: unknown subcommand %q\n%s", sub, evidenceUsage)
		return 2
	}
	// Flags may come before or after the positional arguments.
	want := map[string]int{"access": 0, "find": 0, "link": 2, "hold": 2, "lift-hold": 2, "holds": 1, "retention": 1}[sub]
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if len(pos) == want {
			fmt.Fprintf(stderr, "collector evidence %s: unexpected argument %q\n", sub, fs.Arg(0))
			return 2
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) < want {
		fmt.Fprintf(stderr, "collector evidence %s: which object (or SERIAL SEQ)? give it\n", sub)
		return 2
	}
	var object string
	if want == 1 {
		object = pos[0]
	}
	if sub == "retention" && object != "apply" {
		fmt.Fprintf(stderr, "collector evidence retention: unknown action %q (apply)\n", object)
		return 2
	}
	if want == 2 {
		seq, err := strconv.ParseUint(pos[1], 10, 63)
		if err != nil {
			fmt.Fprintf(stderr, "collector evidence %s: bad seq %q\n", sub, pos[1])
			return 2
		}
		return evidenceAPI(ctx, sub, server, tokenFile, pos[0], seq, link, reason, stdout, stderr)
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
	cq.From, cq.To = q.Since, q.Until
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
	case "find":
		return listFootage(ctx, st, cq, asJSON, stdout, stderr)
	case "retention":
		ev, err := collector.OpenEvidence(ctx, cfg, discardLogger())
		if err != nil {
			fmt.Fprintf(stderr, "collector evidence retention: %v\n", err)
			return 1
		}
		rep, err := collector.RetentionKeeper(cfg, st, ev, discardLogger()).Apply(ctx)
		fmt.Fprintf(stdout, "retention enforced by the %s: %d held and %d case-linked objects, %d locks extended, %d failed\n",
			rep.How, rep.Held, rep.Linked, rep.Extended, rep.Failed)
		if err != nil {
			fmt.Fprintf(stderr, "collector evidence retention: %v\n", err)
			return 1
		}
		return 0
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
	return 2
}

// evidenceAPI links a segment to a case, or sets or lifts its legal hold,
// through the collector's API as the token's holder.
func evidenceAPI(ctx context.Context, sub, server, tokenFile, serial string, seq uint64, link store.CaseLink, reason string,
	stdout, stderr io.Writer) int {
	api, err := newAPIClient(server, tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence %s: %v\n", sub, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	path := fmt.Sprintf("/api/evidence/%s/%d/", url.PathEscape(serial), seq)
	var out struct {
		By          string    `json:"by"`
		Object      string    `json:"object"`
		RetainUntil time.Time `json:"retain_until"`
		EnforcedBy  string    `json:"enforced_by"`
	}
	if sub == "link" {
		err = api.call(ctx, http.MethodPost, path+"links", map[string]string{"case": link.Case, "type": link.Type, "party": link.Party,
			"reason": reason}, &out)
	} else {
		err = api.call(ctx, http.MethodPost, path+sub, map[string]string{"reason": reason}, &out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence %s %s %d: %v\n", sub, serial, seq, err)
		return 1
	}
	switch sub {
	case "link":
		fmt.Fprintf(stdout, "%s/%d linked to case %s by %s; kept until %s, enforced by the %s\n", serial, seq, link.Case, out.By,
			out.RetainUntil.Format(time.DateOnly), out.EnforcedBy)
	default:
		fmt.Fprintf(stdout, "legal hold on %s/%d (%s) %s by %s; enforced by the %s\n", serial, seq, out.Object,
			map[string]string{"hold": "set", "lift-hold": "lifted"}[sub], out.By, out.EnforcedBy)
	}
	return 0
}

func listFootage(ctx context.Context, st *store.Store, q store.CaseQuery, asJSON bool, stdout, stderr io.Writer) int {
	hs, err := st.FindFootage(ctx, q)
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence find: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, h := range hs {
			if err := enc.Encode(h); err != nil {
				fmt.Fprintf(stderr, "collector evidence find: %v\n", err)
				return 1
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "START\tRECORDER\tOFFICER\tUNIT\tCASES\tPARTIES\tOBJECT")
	for _, h := range hs {
		cases, parties := []string{}, []string{}
		if h.CaseTag != "" {
			cases = append(cases, h.CaseTag)
		}
		for _, l := range h.Links {
			cases = append(cases, l.Case)
			if l.Party != "" {
				parties = append(parties, l.Party)
			}
		}
		fmt.Fprintf(tw, "%s\t%s #%d\t%s\t%s\t%s\t%s\t%s\n", h.Start.Local().Format(time.DateTime), h.Serial, h.Seq, dash(h.Officer),
			dash(h.Unit), dash(strings.Join(cases, ",")), dash(strings.Join(parties, ",")), dash(h.Object))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d segments\n", len(hs))
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
