package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// apiClient calls the collector's API as the person whose token it holds:
// the collector records who acts from the token, never from a flag.
type apiClient struct {
	server string
	token  string
}

// errNoToken reports a command run without an API token.
var errNoToken = errors.New("an API token is required (--token-file or BERTH_TOKEN; collector user token NAME)")

func newAPIClient(server, tokenFile string) (*apiClient, error) {
	tok := os.Getenv("BERTH_TOKEN")
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, err
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return nil, errNoToken
	}
	return &apiClient{server: strings.TrimRight(server, "/"), token: tok}, nil
}

// apiError is the API's refusal: its status and message.
type apiError struct {
	Status string
	Msg    string
}

func (e *apiError) Error() string { return e.Status + ": " + e.Msg }

// call sends body (JSON, if not nil) and decodes the answer into out.
func (c *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		out = &struct{}{}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: %s: %w", method, path, resp.Status, err)
	}
	return nil
}

// send makes the request; an answer other than 200 is an *apiError.
func (c *apiClient) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct{ Error string }
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		return nil, &apiError{Status: resp.Status, Msg: e.Error}
	}
	return resp, nil
}
