package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthdock/berth/cloud/store"
)

const alertsUsage = `usage: collector alerts [list] [--db DSN] [--state open|acknowledged|closed] [--unit U] [--kind K] [--serial S] [--json]
       collector alerts ack ID --comment TEXT [--server URL] [--token-file FILE]   (the comment is the written explanation)
       collector alerts explain ID --comment TEXT [--server URL] [--token-file FILE]
       collector alerts close ID [--comment TEXT] [--server URL] [--token-file FILE]
ack, explain and close go through the collector's API as the person whose token it is
(collector user token NAME; or set BERTH_TOKEN): nobody acts under a name they type.
`

// runAlerts lists and acknowledges alerts in the collector's store: the
// supervisor's tool where the web inbox is not at hand.
func runAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("alerts "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, alertsUsage); fs.PrintDefaults() }
	dsn := fs.String("db", defaultDSN, "collector store: SQLite file or postgres:// URL")
	var (
		state, unit, kind, serial  *string
		asJSON                     *bool
		server, tokenFile, comment *string
		limit                      *int
	)
	switch sub {
	case "list":
		state = fs.String("state", "", "only alerts in this state")
		unit = fs.String("unit", "", "only this unit")
		kind = fs.String("kind", "", "only this kind")
		serial = fs.String("serial", "", "only this recorder")
		limit = fs.Int("limit", 200, "at most this many, newest first")
		asJSON = fs.Bool("json", false, "one JSON object per line")
	case "ack", "explain", "close":
		server = fs.String("server", "http://127.0.0.1:8780", "the collector's URL")
		tokenFile = fs.String("token-file", "", "file holding your API token (default: $BERTH_TOKEN)")
		comment = fs.String("comment", "", "comment or written explanation (required for ack and explain)")
	default:
		fmt.Fprintf(stderr, "collector alerts: unknown subcommand %q\n%s", sub, alertsUsage)
		return 2
	}
	// Flags may come before or after the alert id.
	var id int64 = -1
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if sub == "list" || id >= 0 {
			fmt.Fprintf(stderr, "collector alerts %s: unexpected argument %q\n", sub, fs.Arg(0))
			return 2
		}
		v, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil || v < 0 {
			fmt.Fprintf(stderr, "collector alerts %s: bad alert id %q\n", sub, fs.Arg(0))
			return 2
		}
		id, rest = v, fs.Args()[1:]
	}
	if sub != "list" {
		if id < 0 {
			fmt.Fprintf(stderr, "collector alerts %s: which alert? give its id\n", sub)
			return 2
		}
		if sub != "close" && strings.TrimSpace(*comment) == "" {
			fmt.Fprintf(stderr, "collector alerts %s: --comment is required: the written explanation\n", sub)
			return 2
		}
		return actOnAlert(ctx, *server, *tokenFile, sub, id, *comment, stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, *dsn, &store.Opts{Logger: discardLogger()})
	if err != nil {
		fmt.Fprintf(stderr, "collector alerts: %v\n", err)
		return 1
	}
	defer st.Close()
	return listAlerts(ctx, st, store.AlertFilter{State: *state, Unit: *unit, Kind: *kind, Serial: *serial, Limit: *limit}, *asJSON, stdout, stderr)
}

// actOnAlert posts an action to the collector's API with the caller's
// token; the collector records who holds the token.
func actOnAlert(ctx context.Context, server, tokenFile, sub string, id int64, comment string, stdout, stderr io.Writer) int {
	tok, code := apiToken(tokenFile, "collector alerts "+sub, stderr)
	if tok == "" {
		return code
	}
	action := map[string]string{"ack": "acknowledge", "explain": "explain", "close": "close"}[sub]
	body, _ := json.Marshal(map[string]string{"comment": comment})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/api/alerts/%d/%s", strings.TrimRight(server, "/"), id, action),
		bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "collector alerts %s: %v\n", sub, err)
		return 2
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "collector alerts %s: %v\n", sub, err)
		return 1
	}
	defer resp.Body.Close()
	var out struct {
		Error   string             `json:"error"`
		History []store.AlertEvent `json:"history"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&out); err != nil {
		fmt.Fprintf(stderr, "collector alerts %s %d: %s: %v\n", sub, id, resp.Status, err)
		return 1
	}
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusNotFound {
			fmt.Fprintf(stderr, "collector alerts %s: no alert %d\n", sub, id)
		} else {
			fmt.Fprintf(stderr, "collector alerts %s %d: %s: %s\n", sub, id, resp.Status, out.Error)
		}
		return 1
	}
	by := "?"
	if n := len(out.History); n > 0 {
		by = out.History[n-1].By
	}
	fmt.Fprintf(stdout, "alert %d %s by %s\n", id, map[string]string{"ack": "acknowledged", "explain": "explained", "close": "closed"}[sub], by)
	return 0
}

func listAlerts(ctx context.Context, st *store.Store, f store.AlertFilter, asJSON bool, stdout, stderr io.Writer) int {
	as, err := st.Alerts(ctx, f)
	if err != nil {
		fmt.Fprintf(stderr, "collector alerts: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, a := range as {
			if err := enc.Encode(a); err != nil {
				fmt.Fprintf(stderr, "collector alerts: %v\n", err)
				return 1
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSEVERITY\tKIND\tUNIT\tOFFICER\tRECORDER\tAT\tTITLE")
	for _, a := range as {
		rec := a.Serial
		if a.Seq > 0 {
			rec = fmt.Sprintf("%s #%d", a.Serial, a.Seq)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.State, a.Severity, a.Kind, a.Unit, dash(a.Officer), dash(rec),
			a.At.Local().Format("2006-01-02 15:04:05"), a.Title)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d alerts\n", len(as))
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// apiToken reads the caller's API token from tokenFile, else $BERTH_TOKEN;
// on failure it says why (prefixed with what) and returns "" and the exit
// code.
func apiToken(tokenFile, what string, stderr io.Writer) (string, int) {
	tok := os.Getenv("BERTH_TOKEN")
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", what, err)
			return "", 1
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		fmt.Fprintf(stderr, "%s: an API token is required (--token-file or BERTH_TOKEN; collector user token NAME)\n", what)
		return "", 2
	}
	return tok, 0
}
