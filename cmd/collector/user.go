package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
)

const userUsage = `usage: collector user add NAME --role ROLE [--unit U1,U2] [--display NAME] [--password-file FILE|-] [--db DSN] [--by WHO]
       collector user token NAME [--label TEXT] [--ttl 2160h] [--db DSN]   (prints a new API token once)
       collector user list [--db DSN]
roles: officer, auxiliary, custodian, supervisor, admin (only an admin acts in every unit)
`

// runUser keeps the people of the registry on the collector's store: the
// bootstrap an operator holding the store runs before anyone can sign in.
func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("db", defaultDSN, "collector store: SQLite file or postgres:// URL")
	role := fs.String("role", "", "role")
	units := fs.String("unit", "", "units, comma-separated")
	display := fs.String("display", "", "display name (e.g. 王科长)")
	pwFile := fs.String("password-file", "", "file holding the password, or - to read one line from standard input")
	by := fs.String("by", "", "who adds the person (default: the operating-system user)")
	label := fs.String("label", "", "what the token is for")
	ttl := fs.Duration("ttl", 0, "token lifetime (0: until revoked)")
	var name string
	if sub != "list" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "collector user %s: whose? give the name first\n%s", sub, userUsage)
			return 2
		}
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, *dsn, &store.Opts{Logger: discardLogger()})
	if err != nil {
		fmt.Fprintf(stderr, "collector user: %v\n", err)
		return 1
	}
	defer st.Close()
	dir, err := people.New(st, people.Opts{})
	if err != nil {
		fmt.Fprintf(stderr, "collector user: %v\n", err)
		return 1
	}
	switch sub {
	case "add":
		pw := ""
		switch *pwFile {
		case "":
		case "-":
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && err != io.EOF {
				fmt.Fprintf(stderr, "collector user add: password: %v\n", err)
				return 1
			}
			pw = strings.TrimRight(line, "\r\n")
		default:
			b, err := os.ReadFile(*pwFile)
			if err != nil {
				fmt.Fprintf(stderr, "collector user add: %v\n", err)
				return 1
			}
			pw = strings.TrimRight(string(b), "\r\n")
		}
		who := *by
		if who == "" {
			who = "cli:" + os.Getenv("USER")
		}
		var us []string
		for _, u := range strings.Split(*units, ",") {
			if u = strings.TrimSpace(u); u != "" {
				us = append(us, u)
			}
		}
		if err := dir.Add(ctx, store.Person{Name: name, DisplayName: *display, Role: *role, Units: us}, pw, who); err != nil {
			fmt.Fprintf(stderr, "collector user add: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "person %s: %s of %s\n", name, *role, strings.Join(us, ","))
	case "token":
		tok, err := dir.IssueToken(ctx, name, *label, *ttl)
		if err != nil {
			fmt.Fprintf(stderr, "collector user token: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, tok)
	case "list":
		ps, err := st.People(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "collector user list: %v\n", err)
			return 1
		}
		for _, p := range ps {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", p.Name, p.Role, strings.Join(p.Units, ","), p.DisplayName)
		}
	default:
		fmt.Fprintf(stderr, "collector user: unknown subcommand %q\n%s", sub, userUsage)
		return 2
	}
	return 0
}
