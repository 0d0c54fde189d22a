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
	consoleapi "github.com/berthdock/berth/cloud/console/api"
	"github.com/berthdock/berth/cloud/store"
)

const evidenceUsage = `usage: collector evidence access [--object REF] [--viewer NAME] [--action view|export] [--unit U]
                                  [--since RFC3339] [--until RFC3339] [--limit N] [--json] [--server URL] [--token-file FILE]
       collector evidence hold SERIAL SEQ --reason TEXT [--server URL] [--token-file FILE]      (supervisor or admin)
       collector evidence lift-hold SERIAL SEQ --reason TEXT [--server URL] [--token-file FILE] (supervisor or admin)
       collector evidence holds SERIAL SEQ [--server URL] [--token-file FILE]
       collector evidence find [--case C] [--party P] [--officer O] [--recorder R] [--unit U] [--since T] [--until T]
                               [--limit N] [--json] [--server URL] [--token-file FILE]
       collector evidence export ...   (collector evidence export, for its usage)
       collector evidence link SERIAL SEQ --case C [--type T] [--party P] --reason TEXT [--server URL] [--token-file FILE]
       collector evidence retention apply [--config FILE | --db DSN --evidence DIR]
           (re-extends the object lock of held and case-linked objects, as collector serve does
           every few hours; changes nothing when every lock is in place)

Every subcommand but retention goes through the collector's API as the person whose token
it is (collector user token NAME; or set BERTH_TOKEN): nobody acts or reads under a name they
type, and a supervisor finds footage and reads accesses of their own units only (an admin:
all). retention apply works on the store and evidence of an operator who holds them.
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
	var link store.CaseLink
	var reason, server, tokenFile string
	var asJSON bool
	var limit int
	query := url.Values{} // the API's query of access and find
	queryVar := func(name, usage string) {
		fs.Func(name, usage, func(v string) error { query.Set(name, v); return nil })
	}
	timeVar := func(name, param, usage string) {
		fs.Func(name, usage+" (RFC 3339)", func(v string) error {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return err
			}
			query.Set(param, v)
			return nil
		})
	}
	apiFlags := func() {
		fs.StringVar(&server, "server", "http://127.0.0.1:8780", "the collector's URL")
		fs.StringVar(&tokenFile, "token-file", "", "file holding your API token (default: $BERTH_TOKEN)")
	}
	switch sub {
	case "access":
		queryVar("object", "only this object (its receipt's ref)")
		queryVar("viewer", "only this viewer")
		queryVar("action", "only this action (view, export, ...)")
		queryVar("unit", "only accesses to footage of this unit")
		timeVar("since", "since", "at or after this time")
		timeVar("until", "until", "before this time")
		fs.IntVar(&limit, "limit", 1000, "at most this many (10000 at most), oldest first")
		fs.BoolVar(&asJSON, "json", false, "one JSON object per line")
		apiFlags()
	case "hold", "lift-hold":
		apiFlags()
		fs.StringVar(&reason, "reason", "", "why (required; recorded)")
	case "holds":
		apiFlags()
	case "retention":
	case "find":
		queryVar("case", "case number (reported tag or a link)")
		queryVar("party", "inspected party (a link)")
		queryVar("officer", "officer")
		queryVar("recorder", "recorder serial")
		queryVar("unit", "the segment's unit (the recorder's enrolled unit, else its dock's)")
		timeVar("since", "from", "recording started at or after")
		timeVar("until", "to", "recording started before")
		fs.IntVar(&limit, "limit", 1000, "at most this many, oldest first (pages of the API's, followed)")
		fs.BoolVar(&asJSON, "json", false, "one JSON object per line")
		apiFlags()
	case "link":
		fs.StringVar(&link.Case, "case", "", "case number (required)")
		fs.StringVar(&link.Type, "type", "", "case type (complaint, lawsuit, ...: the retention policy's)")
		fs.StringVar(&link.Party, "party", "", "inspected party")
		apiFlags()
		fs.StringVar(&reason, "reason", "", "why (required; recorded)")
	default:
		fmt.Fprintf(stderr, "collector evidence: unknown subcommand %q\n%s", sub, evidenceUsage)
		return 2
	}
	// Flags may come before or after the positional arguments.
	want := map[string]int{"access": 0, "find": 0, "link": 2, "hold": 2, "lift-hold": 2, "holds": 2, "retention": 1}[sub]
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
	if sub == "access" || sub == "find" {
		api, err := newAPIClient(server, tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "collector evidence %s: %v\n", sub, err)
			return 2
		}
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if sub == "access" {
			return listAccess(ctx, api, query, limit, asJSON, stdout, stderr)
		}
		return listFootage(ctx, api, query, limit, asJSON, stdout, stderr)
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
	switch sub {
	case "holds":
		return listHolds(ctx, api, path+"holds", serial, seq, stdout, stderr)
	case "link":
		var out consoleapi.CaseLinked
		if err = api.call(ctx, http.MethodPost, path+"links", consoleapi.LinkCase{Case: link.Case, Type: link.Type, Party: link.Party,
			Reason: reason}, &out); err == nil {
			fmt.Fprintf(stdout, "%s/%d linked to case %s by %s; kept until %s, enforced by the %s\n", serial, seq, link.Case, out.By,
				out.RetainUntil.Format(time.DateOnly), out.EnforcedBy)
		}
	default:
		var out consoleapi.HoldChanged
		if err = api.call(ctx, http.MethodPost, path+sub, consoleapi.Reason{Reason: reason}, &out); err == nil {
			fmt.Fprintf(stdout, "legal hold on %s/%d (%s) %s by %s; enforced by the %s\n", serial, seq, out.Object,
				map[bool]string{true: "set", false: "lifted"}[out.Held], out.By, out.EnforcedBy)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "collector evidence %s %s %d: %v\n", sub, serial, seq, err)
		return 1
	}
	return 0
}

// listHolds prints a segment's legal-hold history, from the API.
func listHolds(ctx context.Context, api *apiClient, path, serial string, seq uint64, stdout, stderr io.Writer) int {
	var out consoleapi.Holds
	if err := api.call(ctx, http.MethodGet, path, nil, &out); err != nil {
		fmt.Fprintf(stderr, "collector evidence holds %s %d: %v\n", serial, seq, err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "legal holds of %s/%d (%s)\n", serial, seq, dash(out.Object))
	fmt.Fprintln(tw, "AT\tHOLD\tBY\tROLE\tREASON")
	for _, h := range out.Holds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.At.Local().Format(time.DateTime), map[bool]string{true: "set", false: "lifted"}[h.Held],
			h.By, h.Role, h.Reason)
	}
	tw.Flush()
	return 0
}

// findPage is the most the evidence search answers at a time.
const findPage = 1000

// listFootage prints the segments the API's evidence search finds, oldest
// first, following its pages (keyset cursors) up to limit.
func listFootage(ctx context.Context, api *apiClient, q url.Values, limit int, asJSON bool, stdout, stderr io.Writer) int {
	var hits []consoleapi.Footage
	for limit > 0 {
		q.Set("limit", strconv.Itoa(min(limit, findPage)))
		var page consoleapi.FootagePage
		if err := api.call(ctx, http.MethodGet, "/api/evidence?"+q.Encode(), nil, &page); err != nil {
			fmt.Fprintf(stderr, "collector evidence find: %v\n", err)
			return 1
		}
		hits = append(hits, page.Segments...)
		limit -= len(page.Segments)
		if page.Next == "" || len(page.Segments) == 0 {
			break
		}
		q.Set("after", page.Next)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, h := range hits {
			if err := enc.Encode(h); err != nil {
				fmt.Fprintf(stderr, "collector evidence find: %v\n", err)
				return 1
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "START\tRECORDER\tOFFICER\tUNIT\tCASES\tPARTIES\tHELD\tOBJECT")
	for _, h := range hits {
		parties := []string{}
		for _, l := range h.Links {
			if l.Party != "" {
				parties = append(parties, l.Party)
			}
		}
		cases := h.Cases()
		fmt.Fprintf(tw, "%s\t%s #%d\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Start.Local().Format(time.DateTime), h.Serial, h.Seq, dash(h.Officer),
			dash(h.Unit), dash(strings.Join(cases, ",")), dash(strings.Join(parties, ",")), map[bool]string{true: "held", false: "-"}[h.Held],
			dash(h.Object))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d segments\n", len(hits))
	return 0
}

// listAccess prints the footage access log the API answers (a
// supervisor's units only; an admin's all).
func listAccess(ctx context.Context, api *apiClient, q url.Values, limit int, asJSON bool, stdout, stderr io.Writer) int {
	q.Set("limit", strconv.Itoa(limit))
	var out consoleapi.AccessPage
	if err := api.call(ctx, http.MethodGet, "/api/access?"+q.Encode(), nil, &out); err != nil {
		fmt.Fprintf(stderr, "collector evidence access: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, a := range out.Accesses {
			if err := enc.Encode(a); err != nil {
				fmt.Fprintf(stderr, "collector evidence access: %v\n", err)
				return 1
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tVIEWER\tROLE\tACTION\tOBJECT\tGRANTED\tFROM\tREASON")
	for _, a := range out.Accesses {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\n", a.At.Local().Format(time.DateTime), a.Viewer, a.Role, a.Action,
			a.Object, a.Granted, dash(a.Remote), dash(a.Reason))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d accesses\n", len(out.Accesses))
	return 0
}
