package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/store"
)

const holesUsage = `usage: collector holes release --recorder SERIAL --reason TEXT [--server URL] [--token-file FILE]

A recorder with a sequence hole keeps all its footage on itself. A supervisor
of its unit decides, with the reason, that its receipted segments may be
released all the same: the decision is recorded (who, why, in each hole
alert's history) and sent to the dock that last docked it, through the
collector's API as the person whose token it is.
`

// runHoles posts a hole release decision to the collector's API.
func runHoles(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "release" {
		fmt.Fprint(stderr, holesUsage)
		return 2
	}
	fs := flag.NewFlagSet("collector holes release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	recorder := fs.String("recorder", "", "the recorder's serial")
	reason := fs.String("reason", "", "why its footage may be released around the hole (required)")
	server := fs.String("server", "http://127.0.0.1:8780", "the collector's URL")
	tokenFile := fs.String("token-file", "", "file holding your API token (default: $BERTH_TOKEN)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *recorder == "" || strings.TrimSpace(*reason) == "" {
		fmt.Fprintf(stderr, "collector holes release: --recorder and --reason are required\n%s", holesUsage)
		return 2
	}
	tok, code := apiToken(*tokenFile, "collector holes release", stderr)
	if tok == "" {
		return code
	}
	body, _ := json.Marshal(map[string]string{"reason": *reason})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimRight(*server, "/")+"/api/recorders/"+url.PathEscape(*recorder)+"/holes/release", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "collector holes release: %v\n", err)
		return 2
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "collector holes release: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	var out struct {
		Error     string              `json:"error"`
		Dock      string              `json:"dock"`
		By        string              `json:"by"`
		Decisions []store.HoleRelease `json:"decisions"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&out); err != nil {
		fmt.Fprintf(stderr, "collector holes release %s: %s: %v\n", *recorder, resp.Status, err)
		return 1
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "collector holes release %s: %s: %s\n", *recorder, resp.Status, out.Error)
		return 1
	}
	for _, d := range out.Decisions {
		fmt.Fprintf(stdout, "recorder %s: release around missing seq %d..%d decided by %s; sent to dock %s\n",
			*recorder, d.From, d.To, out.By, out.Dock)
	}
	return 0
}
