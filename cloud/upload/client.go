package upload

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/time/rate"

	"github.com/berthdock/berth/cloud/wire"
)

// ClientOpts configures a Client.
type ClientOpts struct {
	// BaseURL is the collector's upload endpoint root, e.g.
	// "https://collector.example:8443"; PathPrefix is appended.
	BaseURL string
	// Dock and Token are the dock's id and enrolment token.
	Dock, Token string
	// CollectorKey verifies receipts.
	CollectorKey ed25519.PublicKey
	// RateBytes caps the upload bandwidth in bytes per second; 0 is no cap.
	RateBytes int64
	// ChunkSize is the bytes per request (default DefaultChunkSize); it
	// must not exceed the collector's chunk limit.
	ChunkSize int
	// HTTPClient makes the requests (default: a client with the default
	// transport and no overall timeout; use ctx deadlines).
	HTTPClient *http.Client
}

// DefaultChunkSize is the default bytes per chunk request.
const DefaultChunkSize = 4 << 20

// maxConflicts bounds how often one Upload call re-synchronises its offset
// after an offset conflict before giving up (another uploader is racing it).
const maxConflicts = 4

// Client uploads segments to the collector; it implements
// agent/uploader.Client and is safe for concurrent use.
type Client struct {
	base    string
	dock    string
	token   string
	key     ed25519.PublicKey
	chunk   int
	http    *http.Client
	limiter *rate.Limiter // nil: no cap
}

// rateBurst is the limiter's bucket: small, so the cap is smooth.
const rateBurst = 64 << 10

// NewClient makes a client.
func NewClient(o ClientOpts) (*Client, error) {
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: base url %q", ErrArgument, o.BaseURL)
	}
	if err := wire.ValidID(o.Dock); err != nil {
		return nil, fmt.Errorf("%w: dock: %w", ErrArgument, err)
	}
	if o.Token == "" || strings.ContainsAny(o.Token, "\r\n") {
		return nil, fmt.Errorf("%w: empty or multi-line token", ErrArgument)
	}
	if len(o.CollectorKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: collector key of %d bytes", ErrArgument, len(o.CollectorKey))
	}
	if o.RateBytes < 0 {
		return nil, fmt.Errorf("%w: negative rate %d", ErrArgument, o.RateBytes)
	}
	c := &Client{base: strings.TrimRight(o.BaseURL, "/") + PathPrefix, dock: o.Dock, token: o.Token,
		key: o.CollectorKey, chunk: o.ChunkSize, http: o.HTTPClient}
	if c.chunk <= 0 {
		c.chunk = DefaultChunkSize
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if o.RateBytes > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(o.RateBytes), rateBurst)
	}
	return c, nil
}

// Upload uploads src (size bytes hashing to sha256hex) as device's segment
// seq, resuming a previous attempt at its durable offset, and returns the
// collector's receipt once it verifies against the collector's key and
// names exactly this segment. progress, if not nil, is called with the
// collector's durable offset as it advances. Errors wrap ErrRejected,
// ErrUnavailable, ErrBadReceipt or ErrArgument; ctx cancellation returns
// ctx's error wrapped in ErrUnavailable.
func (c *Client) Upload(ctx context.Context, device string, seq uint64, size int64, sha256hex string, src io.ReaderAt,
	progress func(done int64)) (wire.Receipt, error) {
	if err := wire.ValidID(device); err != nil {
		return wire.Receipt{}, fmt.Errorf("%w: device: %w", ErrArgument, err)
	}
	if !ValidSHA256(sha256hex) || size < 0 || seq > math.MaxInt64 {
		return wire.Receipt{}, fmt.Errorf("%w: sha256 %q size %d seq %d", ErrArgument, sha256hex, size, seq)
	}
	if progress == nil {
		progress = func(int64) {}
	}
	st, err := c.create(ctx, CreateRequest{Device: device, Seq: seq, Size: size, SHA256: sha256hex})
	if err != nil {
		return wire.Receipt{}, err
	}
	if st.Receipt == nil {
		off := st.Offset
		progress(off)
		buf := make([]byte, min(int64(c.chunk), size))
		conflicts := 0
		for off < size {
			p := buf[:min(int64(len(buf)), size-off)]
			if n, err := src.ReadAt(p, off); n < len(p) {
				return wire.Receipt{}, fmt.Errorf("%w: read source at %d: %d of %d bytes: %w", ErrArgument, off, n, len(p), err)
			}
			next, err := c.chunkAt(ctx, st.Upload, off, p)
			var e *Error
			if errors.As(err, &e) && e.Reason == ReasonOffsetConflict && e.Offset >= 0 && conflicts < maxConflicts {
				conflicts++
				off = e.Offset
				continue
			}
			if err != nil {
				return wire.Receipt{}, err
			}
			off = next
			progress(off)
		}
		if st, err = c.finish(ctx, st.Upload); err != nil {
			return wire.Receipt{}, err
		}
		if st.Receipt == nil {
			return wire.Receipt{}, fmt.Errorf("%w: finish answered without a receipt", ErrBadReceipt)
		}
	}
	r := *st.Receipt
	if err := r.Verify(c.key, device, seq, sha256hex, size); err != nil {
		return wire.Receipt{}, fmt.Errorf("%w: %w", ErrBadReceipt, err)
	}
	if r.ObjectID == "" {
		return wire.Receipt{}, fmt.Errorf("%w: no object id", ErrBadReceipt)
	}
	return r, nil
}

func (c *Client) create(ctx context.Context, cr CreateRequest) (Status, error) {
	body, _ := json.Marshal(cr)
	req, err := c.request(ctx, http.MethodPost, c.base, bytes.NewReader(body))
	if err != nil {
		return Status{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	var st Status
	if err := c.do(req, &st); err != nil {
		return Status{}, err
	}
	if st.Receipt == nil && (st.Upload == "" || st.Offset < 0 || st.Offset > cr.Size || st.Size != cr.Size) {
		return Status{}, fmt.Errorf("%w: create answered upload %q offset %d size %d", ErrUnavailable, st.Upload, st.Offset, st.Size)
	}
	return st, nil
}

// Offset asks the collector for upload id's durable offset.
func (c *Client) Offset(ctx context.Context, id string) (int64, error) {
	req, err := c.request(ctx, http.MethodHead, c.base+"/"+url.PathEscape(id), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.roundTrip(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, &Error{Status: resp.StatusCode, Reason: Reason(http.StatusText(resp.StatusCode)),
			Message: "offset query refused", Offset: -1}
	}
	off, err := strconv.ParseInt(resp.Header.Get(HeaderOffset), 10, 64)
	if err != nil || off < 0 {
		return 0, fmt.Errorf("%w: bad %s %q", ErrUnavailable, HeaderOffset, resp.Header.Get(HeaderOffset))
	}
	return off, nil
}

func (c *Client) chunkAt(ctx context.Context, id string, off int64, p []byte) (int64, error) {
	sum := sha256.Sum256(p)
	var body io.Reader = bytes.NewReader(p)
	if c.limiter != nil {
		body = &limitedReader{ctx: ctx, r: body, l: c.limiter}
	}
	req, err := c.request(ctx, http.MethodPatch, c.base+"/"+url.PathEscape(id), body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = int64(len(p))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(HeaderOffset, strconv.FormatInt(off, 10))
	req.Header.Set(HeaderChunkSHA256, hex.EncodeToString(sum[:]))
	if err := c.do(req, nil); err != nil {
		return 0, err
	}
	return off + int64(len(p)), nil
}

func (c *Client) finish(ctx context.Context, id string) (Status, error) {
	req, err := c.request(ctx, http.MethodPost, c.base+"/"+url.PathEscape(id)+"/finish", nil)
	if err != nil {
		return Status{}, err
	}
	var st Status
	return st, c.do(req, &st)
}

func (c *Client) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrArgument, err)
	}
	req.Header.Set(HeaderDock, c.dock)
	req.Header.Set("Authorization", "Bearer "+c.token)
	return req, nil
}

func (c *Client) roundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		if cerr := req.Context().Err(); cerr != nil {
			return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, req.Method, req.URL.Path, cerr)
		}
		return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, req.Method, req.URL.Path, err)
	}
	return resp, nil
}

// maxAnswer bounds an answer's body.
const maxAnswer = 64 << 10

// do sends req and decodes a 2xx answer into out (if not nil), or an error
// answer into *Error.
func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.roundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%w: %s %s: reading answer: %w", ErrUnavailable, req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode, Offset: -1}
		var eb ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Reason != "" {
			e.Reason, e.Message = eb.Reason, eb.Error
			if eb.Offset != nil {
				e.Offset = *eb.Offset
			}
		} else {
			e.Reason, e.Message = Reason(strings.ToLower(http.StatusText(resp.StatusCode))), string(bytes.TrimSpace(b[:min(len(b), 200)]))
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%w: %s %s: bad answer: %w", ErrUnavailable, req.Method, req.URL.Path, err)
		}
	}
	return nil
}

// limitedReader paces reads through a rate limiter.
type limitedReader struct {
	ctx context.Context
	r   io.Reader
	l   *rate.Limiter
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if len(p) > rateBurst {
		p = p[:rateBurst]
	}
	if err := l.l.WaitN(l.ctx, len(p)); err != nil {
		return 0, err
	}
	return l.r.Read(p)
}
