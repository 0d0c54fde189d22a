package localapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Client talks to dockd's socket.
type Client struct {
	hc *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	return &Client{hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

// Get decodes GET /v1/{what} into v.
func (c *Client) Get(ctx context.Context, what string, v any) error {
	return c.do(ctx, http.MethodGet, "/v1/"+what, "", v)
}

// PowerCycle asks dockd to power-cycle a slot on behalf of user.
func (c *Client) PowerCycle(ctx context.Context, slot int, user string) error {
	return c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/slots/%d/power-cycle", slot), user, nil)
}

// Simulate docks (present) or takes the recorder in slot of a simulated
// board, on behalf of user; slot is the board's name for it (A) or its index.
func (c *Client) Simulate(ctx context.Context, slot string, present bool, user string) error {
	action := "remove"
	if present {
		action = "insert"
	}
	return c.do(ctx, http.MethodPost, "/v1/sim/slots/"+url.PathEscape(slot)+"/"+action, user, nil)
}

func (c *Client) do(ctx context.Context, method, path, user string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://dockd"+path, nil)
	if err != nil {
		return err
	}
	if user != "" {
		req.Header.Set("X-Berth-User", user)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("localapi: is dockd running? %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("localapi: read reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("dockd: %s", e.Error)
		}
		return fmt.Errorf("dockd: %s", resp.Status)
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("localapi: decode reply: %w", err)
	}
	return nil
}
