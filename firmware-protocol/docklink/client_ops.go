package docklink

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"
)

// Hello opens the session (§5): it offers the versions and capabilities
// of this package and applies the device's limits. It may be called again
// to restart the session.
func (c *Client) Hello(ctx context.Context) (HelloAck, error) {
	req := &Hello{MinVersion: MinVersion, MaxVersion: MaxVersion, Capabilities: CapAll, MaxPayload: c.o.MaxPayload, DockID: c.o.DockID}
	ack, err := expect[*HelloAck](ctx, c, req)
	if err != nil {
		return HelloAck{}, err
	}
	if ack.Version < MinVersion || ack.Version > MaxVersion {
		return HelloAck{}, fmt.Errorf("%w: device chose version %d", ErrNotNegotiated, ack.Version)
	}
	if ack.MaxPayload < MinPayload || ack.MaxRead == 0 || ack.MaxOutstanding == 0 {
		return HelloAck{}, fmt.Errorf("%w: device limits max_payload %d, max_read %d, max_outstanding %d",
			ErrNotNegotiated, ack.MaxPayload, ack.MaxRead, ack.MaxOutstanding)
	}
	c.wmu.Lock()
	c.fr.SetSendLimit(int(ack.MaxPayload))
	c.wmu.Unlock()
	c.mu.Lock()
	c.ack = ack
	c.mu.Unlock()
	return *ack, nil
}

// KeyStore holds the fleet's enrolled device keys (§6.3).
type KeyStore interface {
	// PublicKey returns the enrolled Ed25519 key of a device serial.
	PublicKey(serial string) (ed25519.PublicKey, bool)
}

// Keys is a KeyStore in a map from serial to key.
type Keys map[string]ed25519.PublicKey

// PublicKey implements KeyStore.
func (k Keys) PublicKey(serial string) (ed25519.PublicKey, bool) {
	p, ok := k[serial]
	return p, ok
}

// Authenticate proves the device holds the private key enrolled for the
// serial it announced in HELLO_ACK (§6): a nonce derived from the dock id,
// the dock's clock and fresh random bytes (§6.5), a signature over
// AuthMessage, verified against keys. It returns ErrUnknownDevice if the
// serial is not enrolled (no challenge is sent) and ErrAuthFailed if the
// signature does not verify. AuthenticateProof is the same and returns the
// proof too.
func (c *Client) Authenticate(ctx context.Context, keys KeyStore) (DeviceInfo, error) {
	info, _, err := c.AuthenticateProof(ctx, keys)
	return info, err
}

// AuthenticateProof authenticates the device as Authenticate does and
// returns the proof a third party can check with the device's public key
// (§6.5): ClientOpts.DockID, the time from ClientOpts.Now, the salt from
// ClientOpts.Rand and the device's signature.
func (c *Client) AuthenticateProof(ctx context.Context, keys KeyStore) (DeviceInfo, AuthProof, error) {
	ack, err := c.session()
	if err != nil {
		return DeviceInfo{}, AuthProof{}, err
	}
	info := ack.Info
	pub, ok := keys.PublicKey(info.Serial)
	if !ok {
		return info, AuthProof{}, fmt.Errorf("%w: serial %q", ErrUnknownDevice, info.Serial)
	}
	p := AuthProof{Dock: c.o.DockID, At: c.o.Now(), Serial: info.Serial}
	if _, err := io.ReadFull(c.o.Rand, p.Salt[:]); err != nil {
		return info, AuthProof{}, fmt.Errorf("docklink: nonce: %w", err)
	}
	resp, err := expect[*AuthResponse](ctx, c, &AuthChallenge{Nonce: p.Nonce()})
	if err != nil {
		return info, AuthProof{}, err
	}
	p.Signature = resp.Signature
	if !p.Verify(pub) {
		return info, AuthProof{}, fmt.Errorf("%w: serial %q: signature does not verify with the enrolled key", ErrAuthFailed, info.Serial)
	}
	return info, p, nil
}

// Status reads the device status (§7).
func (c *Client) Status(ctx context.Context) (Status, error) {
	st, err := expect[*Status](ctx, c, &StatusGet{})
	if err != nil {
		return Status{}, err
	}
	return *st, nil
}

// ClockReading is one read of the device clock against the dock's (§8.1).
type ClockReading struct {
	Device   time.Time     // the device's clock
	Sent     time.Time     // dock clock when CLOCK_GET was sent
	Received time.Time     // dock clock when CLOCK arrived
	Offset   time.Duration // Device minus the dock clock at the midpoint of Sent and Received
	RTT      time.Duration // Received minus Sent: the offset's uncertainty is ±RTT/2
}

// Clock reads the device clock and its offset from the dock's clock (§8.1).
func (c *Client) Clock(ctx context.Context) (ClockReading, error) {
	sent := c.o.Now()
	ck, err := expect[*Clock](ctx, c, &ClockGet{})
	if err != nil {
		return ClockReading{}, err
	}
	recv := c.o.Now()
	rtt := recv.Sub(sent)
	mid := sent.Add(rtt / 2)
	return ClockReading{Device: ck.Time, Sent: sent, Received: recv, Offset: ck.Time.Sub(mid), RTT: rtt}, nil
}

// SetClock sets the device clock to t, or to the dock's clock if t is zero
// (§8.2). The ack holds the device clock before and after.
func (c *Client) SetClock(ctx context.Context, t time.Time) (ClockSetAck, error) {
	if t.IsZero() {
		t = c.o.Now()
	}
	ack, err := expect[*ClockSetAck](ctx, c, &ClockSet{Time: t})
	if err != nil {
		return ClockSetAck{}, err
	}
	return *ack, nil
}

// Inventory lists every segment the device holds, paging internally
// (§9.1). It fails with ErrBadInventory if sequence numbers are not
// strictly ascending across pages.
func (c *Client) Inventory(ctx context.Context) ([]Segment, error) {
	var all []Segment
	var after uint64
	for {
		page, err := expect[*InventoryPage](ctx, c, &InventoryGet{AfterSeq: after, MaxCount: c.o.PageSize})
		if err != nil {
			return all, err
		}
		for _, s := range page.Segments {
			if s.Seq <= after {
				return all, fmt.Errorf("%w: seq %d after %d", ErrBadInventory, s.Seq, after)
			}
			after = s.Seq
		}
		all = append(all, page.Segments...)
		if !page.More {
			return all, nil
		}
		if len(page.Segments) == 0 {
			return all, fmt.Errorf("%w: empty page with more set", ErrBadInventory)
		}
	}
}

// Events reads the whole event log, paging internally (§10.1).
func (c *Client) Events(ctx context.Context) ([]Event, error) {
	return c.EventsAfter(ctx, 0)
}

// EventsAfter reads the event log entries with Index > after (§10.1), so a
// dock can fetch only what it has not seen.
func (c *Client) EventsAfter(ctx context.Context, after uint64) ([]Event, error) {
	var all []Event
	for {
		page, err := expect[*EventsPage](ctx, c, &EventsGet{AfterIndex: after, MaxCount: c.o.PageSize})
		if err != nil {
			return all, err
		}
		for _, e := range page.Events {
			if e.Index <= after {
				return all, fmt.Errorf("%w: event index %d after %d", ErrBadInventory, e.Index, after)
			}
			after = e.Index
		}
		all = append(all, page.Events...)
		if !page.More {
			return all, nil
		}
		if len(page.Events) == 0 {
			return all, fmt.Errorf("%w: empty event page with more set", ErrBadInventory)
		}
	}
}

// Release tells the device to free segment seq whose SHA-256 is sha
// (§11.4). Call it only once the evidence store's receipt for exactly this
// hash is durable. A device refusal is a *Error (CodeHashMismatch,
// CodeUnknownSegment, ...).
func (c *Client) Release(ctx context.Context, seq uint64, sha [32]byte) error {
	ack, err := expect[*ReleaseAck](ctx, c, &Release{Seq: seq, SHA256: sha})
	if err != nil {
		return err
	}
	if ack.Seq != seq {
		return fmt.Errorf("%w: release of seq %d acknowledged for seq %d", ErrUnexpected, seq, ack.Seq)
	}
	return nil
}

// Ping measures a round trip (§5.4).
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if _, err := expect[*Pong](ctx, c, &Ping{}); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
