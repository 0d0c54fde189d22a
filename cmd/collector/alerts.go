package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthdock/berth/cloud/store"
)

const alertsUsage = `usage: collector alerts [list] [--db DSN] [--state open|acknowledged|closed] [--unit U] [--kind K] [--serial S] [--json]
       collector alerts ack ID --by NAME --comment TEXT   (the comment is the written explanation)
       collector alerts close ID --by NAME
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
		state, unit, kind, serial *string
		asJSON                    *bool
		by, comment               *string
		limit                     *int
	)
	switch sub {
	case "list":
		state = fs.String("state", "", "only alerts in this state")
		unit = fs.String("unit", "", "only this unit")
		kind = fs.String("kind", "", "only this kind")
		serial = fs.String("serial", "", "only this recorder")
		limit = fs.Int("limit", 200, "at most this many, newest first")
		asJSON = fs.Bool("json", false, "one JSON object per line")
	case "ack", "close":
		by = fs.String("by", "", "who acknowledges or closes (required)")
		if sub == "ack" {
			comment = fs.String("comment", "", "comment or written explanation (required)")
		}
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
		if strings.TrimSpace(*by) == "" || (comment != nil && strings.TrimSpace(*comment) == "") {
			fmt.Fprintf(stderr, "collector alerts %s: --by and (for ack) --comment are required: an acknowledgement names who and why\n", sub)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, *dsn, &store.Opts{Logger: discardLogger()})
	if err != nil {
		fmt.Fprintf(stderr, "collector alerts: %v\n", err)
		return 1
	}
	defer st.Close()
	switch sub {
	case "ack":
		err = st.AckAlert(ctx, id, *by, *comment)
	case "close":
		err = st.CloseAlert(ctx, id, *by)
	default:
		return listAlerts(ctx, st, store.AlertFilter{State: *state, Unit: *unit, Kind: *kind, Serial: *serial, Limit: *limit}, *asJSON, stdout, stderr)
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(stderr, "collector alerts %s: no alert %d\n", sub, id)
		} else {
			fmt.Fprintf(stderr, "collector alerts %s %d: %v\n", sub, id, err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "alert %d %s by %s\n", id, map[string]string{"ack": "acknowledged", "close": "closed"}[sub], *by)
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
