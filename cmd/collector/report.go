package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/berthdock/berth/cloud/compliance"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire/rules"
)

const reportUsage = `usage: collector report --unit U --week 2026-W48 [--db DSN] [--csv | --json]
`

// runReport prints a unit's weekly compliance statistics per officer
// (package compliance): recordings, interruptions and the explained rate,
// late uploads, holes, time to acknowledge.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, reportUsage); fs.PrintDefaults() }
	dsn := fs.String("db", defaultDSN, "collector store: SQLite file or postgres:// URL")
	unit := fs.String("unit", "", "the unit (required)")
	week := fs.String("week", "", "ISO week, like 2026-W48 (required)")
	asCSV := fs.Bool("csv", false, "CSV with a header line")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *unit == "" || *week == "" || fs.NArg() > 0 || *asCSV && *asJSON {
		fs.Usage()
		return 2
	}
	if _, err := compliance.ParseWeek(*week); err != nil {
		fmt.Fprintln(stderr, "collector report:", err)
		return 2
	}
	st, err := store.Open(ctx, *dsn, &store.Opts{Logger: discardLogger()})
	if err != nil {
		fmt.Fprintln(stderr, "collector report:", err)
		return 1
	}
	defer st.Close()
	rows, err := compliance.Report(ctx, st, rules.DefaultPolicy(), *unit, *week)
	if err != nil {
		fmt.Fprintln(stderr, "collector report:", err)
		return 1
	}
	name := func(r compliance.Row) string {
		if r.Total {
			return "(unit total)"
		}
		if r.Officer == "" {
			return "(no officer)"
		}
		return r.Officer
	}
	pct := func(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) }
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintln(stderr, "collector report:", err)
				return 1
			}
		}
	case *asCSV:
		w := csv.NewWriter(stdout)
		w.Write([]string{"unit", "week", "officer", "recordings", "segments", "interruptions", "explained", "explained_pct",
			"late", "late_pct", "holes", "acknowledged", "mean_ack_hours"})
		for _, r := range rows {
			w.Write([]string{r.Unit, r.Week, name(r), strconv.Itoa(r.Recordings), strconv.Itoa(r.Segments), strconv.Itoa(r.Interruptions),
				strconv.Itoa(r.Explained), pct(r.ExplainedRate), strconv.Itoa(r.Late), pct(r.LateRate), strconv.Itoa(r.Holes),
				strconv.Itoa(r.Acknowledged), strconv.FormatFloat(r.MeanAckHours, 'f', 1, 64)})
		}
		w.Flush()
		if err := w.Error(); err != nil {
			fmt.Fprintln(stderr, "collector report:", err)
			return 1
		}
	default:
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "unit %s, week %s\n", *unit, *week)
		fmt.Fprintln(tw, "OFFICER\tRECORDINGS\tSEGMENTS\tINTERRUPTIONS\tEXPLAINED\tLATE\tHOLES\tACK'D\tMEAN ACK")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s%%\t%d (%s%%)\t%d\t%d\t%.1f h\n", name(r), r.Recordings, r.Segments, r.Interruptions,
				pct(r.ExplainedRate), r.Late, pct(r.LateRate), r.Holes, r.Acknowledged, r.MeanAckHours)
		}
		tw.Flush()
	}
	return 0
}
