package uploader

import (
	"bufio"
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
	"sync"

	"golang.org/x/time/rate"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// ClientOpts configures an HTTPClient.
type ClientOpts struct {
	// BaseURL is the collector's upload endpoint root, e.g.
	// "https://collector.example:8443"; upload.PathPrefix is appended.
	BaseURL string
	// Dock and Token are the dock's id and enrolment token.
	Dock, Token string
	// CollectorKey verifies receipts.
	CollectorKey ed25519.PublicKey
	// PreviousKeys are collector keys still trusted after a rotation:
	// receipts the collector issued before it keep their signature.
	PreviousKeys []ed25519.PublicKey
	// RateBytes caps the upload bandwidth in bytes per second; 0 is no cap.
	RateBytes int64
	// ChunkSize is the bytes per request (default DefaultChunkSize); it
	// must not exceed the collector's chunk limit. A chunk is never held
	// in memory whole (see HTTPClient), so it costs no memory to raise.
	// Under RateBytes the default is what the cap sends in a minute (at
	// most DefaultChunkSize), so a chunk meets the collector's timeout.
	ChunkSize int
	// HTTPClient makes the requests (default: a client with the default
	// transport and no overall timeout; use ctx deadlines).
	HTTPClient *http.Client
}

var _ Client = (*HTTPClient)(nil)

// DefaultChunkSize is the default bytes per chunk request: the collector's
// limit (server.DefaultMaxChunk). On the S3 evidence backend every chunk
// of 5 MiB or more is a part of the object's multipart upload as it
// comes, while a smaller one is stored once as it comes and again inside
// the part it ends up in (S3's least part is 5 MiB): 4 MiB chunks cost the
// collector 1.5 times the bytes. Fewer, larger requests also cost less per
// byte on both sides (measured in cloud/upload/server BenchmarkUpload).
const DefaultChunkSize = 16 << 20

// Under a bandwidth cap the default chunk is what the cap sends in
// cappedChunkSeconds (half the collector's default chunk timeout), at least
// minCappedChunk.
const (
	cappedChunkSeconds = 60
	minCappedChunk     = 64 << 10
)

// pieceSize is how much of the source is read at a time: the buffer's own
// chunk (agent/buffer stores footage in 1 MiB values), so one read is one
// lookup.
const pieceSize = 1 << 20

// maxConflicts bounds how often one Upload call re-synchronises its offset
// after an offset conflict before giving up (another uploader is racing it).
const maxConflicts = 4

// HTTPClient uploads segments to the collector's evidence endpoint over
// the resumable upload protocol (cloud/wire/upload); it is the uploader's
// Client in production and is safe for concurrent use.
//
// A chunk's SHA-256 goes in its request's header, before its bytes, so each
// chunk is read from the source twice: once to hash it (the next chunk is
// hashed while the current one is on the wire) and once as the request's
// body, a piece at a time. Memory per upload is therefore three pieces
// (1 MiB each) whatever the chunk size, where holding chunks whole would
// take two chunks (32 MiB at the default size: too much for a dockd held to
// an 80 MiB heap, see deploy/pi/dockd.service). The price is reading the
// footage from the buffer twice.
type HTTPClient struct {
	base    string
	dock    string
	token   string
	keys    wire.ReceiptKeys
	chunk   int
	http    *http.Client
	limiter *rate.Limiter // nil: no cap
}

// rateBurst is the limiter's bucket: small, so the cap is smooth.
const rateBurst = 64 << 10

// NewClient makes the HTTP upload client.
func NewClient(o ClientOpts) (*HTTPClient, error) {
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: base url %q", upload.ErrArgument, o.BaseURL)
	}
	if err := wire.ValidID(o.Dock); err != nil {
		return nil, fmt.Errorf("%w: dock: %w", upload.ErrArgument, err)
	}
	if o.Token == "" || strings.ContainsAny(o.Token, "\r\n") {
		return nil, fmt.Errorf("%w: empty or multi-line token", upload.ErrArgument)
	}
	if len(o.CollectorKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: collector key of %d bytes", upload.ErrArgument, len(o.CollectorKey))
	}
	if o.RateBytes < 0 {
		return nil, fmt.Errorf("%w: negative rate %d", upload.ErrArgument, o.RateBytes)
	}
	for i, k := range o.PreviousKeys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: previous collector key %d of %d bytes", upload.ErrArgument, i, len(k))
		}
	}
	c := &HTTPClient{base: strings.TrimRight(o.BaseURL, "/") + upload.PathPrefix, dock: o.Dock, token: o.Token,
		keys: append(wire.ReceiptKeys{o.CollectorKey}, o.PreviousKeys...), chunk: o.ChunkSize, http: o.HTTPClient}
	if c.chunk <= 0 {
		c.chunk = DefaultChunkSize
		if o.RateBytes > 0 {
			// Under a bandwidth cap a chunk must arrive within the
			// collector's chunk timeout (2 min by default): take what
			// the cap sends in half of it.
			c.chunk = int(min(DefaultChunkSize, max(o.RateBytes*cappedChunkSeconds, minCappedChunk)))
		}
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
// collector's durable offset as it advances. Errors wrap
// upload.ErrRejected, upload.ErrUnavailable, upload.ErrBadReceipt or
// upload.ErrArgument; ctx cancellation returns ctx's error wrapped in
// upload.ErrUnavailable.
func (c *HTTPClient) Upload(ctx context.Context, device string, seq uint64, size int64, sha256hex string, src io.ReaderAt,
	progress func(done int64)) (wire.Receipt, error) {
	if err := wire.ValidID(device); err != nil {
		return wire.Receipt{}, fmt.Errorf("%w: device: %w", upload.ErrArgument, err)
	}
	if !wire.ValidSHA256(sha256hex) || size < 0 || seq > math.MaxInt64 {
		return wire.Receipt{}, fmt.Errorf("%w: sha256 %q size %d seq %d", upload.ErrArgument, sha256hex, size, seq)
	}
	if progress == nil {
		progress = func(int64) {}
	}
	var st upload.Status
	for attempt := 0; ; attempt++ {
		var err error
		st, err = c.create(ctx, upload.CreateRequest{Device: device, Seq: seq, Size: size, SHA256: sha256hex})
		if err != nil {
			return wire.Receipt{}, err
		}
		if st.Receipt != nil {
			break
		}
		st, err = c.send(ctx, st, size, src, progress)
		var e *upload.Error
		if errors.As(err, &e) && e.Reason == upload.ReasonUnknownUpload && attempt < maxConflicts {
			// The upload went away under us: finished by a twin (its
			// receipt is what create answers now) or discarded.
			continue
		}
		if err != nil {
			return wire.Receipt{}, err
		}
		break
	}
	r := *st.Receipt
	if err := c.keys.Verify(&r, device, seq, sha256hex, size); err != nil {
		return wire.Receipt{}, fmt.Errorf("%w: %w", upload.ErrBadReceipt, err)
	}
	if r.ObjectID == "" {
		return wire.Receipt{}, fmt.Errorf("%w: no object id", upload.ErrBadReceipt)
	}
	return r, nil
}

// chunk is one chunk of the source, hashed.
type chunk struct {
	off, n int64
	sum    string
	err    error
}

// hashChunk hashes the source's n bytes at off, reading them a piece at a
// time into buf.
func hashChunk(src io.ReaderAt, buf []byte, off, n int64) chunk {
	h := sha256.New()
	got, err := io.CopyBuffer(h, io.NewSectionReader(src, off, n), buf)
	if err == nil && got != n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return chunk{err: fmt.Errorf("%w: read source at %d: %d of %d bytes: %w", upload.ErrArgument, off, got, n, err)}
	}
	return chunk{off: off, n: n, sum: hex.EncodeToString(h.Sum(nil))}
}

// send uploads the bytes from st.Offset on and finishes the upload. The
// next chunk is hashed while the current one is on the wire; the
// goroutine doing it is joined before each chunk's answer is acted on.
func (c *HTTPClient) send(ctx context.Context, st upload.Status, size int64, src io.ReaderAt, progress func(int64)) (upload.Status, error) {
	src = &exactReaderAt{r: src, size: size}
	hashBuf := make([]byte, min(pieceSize, size))
	body := bufio.NewReaderSize(nil, int(min(pieceSize, max(size, 16))))
	length := func(off int64) int64 { return min(int64(c.chunk), size-off) }
	off := st.Offset
	progress(off)
	conflicts := 0
	for {
		var cur chunk
		if off < size {
			if cur = hashChunk(src, hashBuf, off, length(off)); cur.err != nil {
				return upload.Status{}, cur.err
			}
		}
		for off < size {
			var ahead chunk
			var wg sync.WaitGroup
			if end := off + cur.n; end < size {
				wg.Go(func() { ahead = hashChunk(src, hashBuf, end, length(end)) })
			}
			body.Reset(io.NewSectionReader(src, off, cur.n))
			done, err := c.chunkAt(ctx, st.Upload, off, cur.n, body, cur.sum)
			wg.Wait()
			if err != nil {
				at, ok := c.resync(err, &conflicts)
				if !ok {
					return upload.Status{}, err
				}
				off = at
				break
			}
			off = done
			progress(off)
			if off < size {
				if ahead.err != nil {
					return upload.Status{}, ahead.err
				}
				cur = ahead
			}
		}
		if off < size {
			continue // re-synchronised: hash again at the collector's offset
		}
		fin, err := c.finish(ctx, st.Upload)
		if err == nil {
			if fin.Receipt == nil {
				return upload.Status{}, fmt.Errorf("%w: finish answered without a receipt", upload.ErrBadReceipt)
			}
			return fin, nil
		}
		resumeAt, ok := c.resync(err, &conflicts)
		if !ok {
			return upload.Status{}, err
		}
		off = resumeAt
	}
}

// exactReaderAt is a source of size bytes that must deliver all of them:
// a read ending early within size is an error, not a short chunk.
type exactReaderAt struct {
	r    io.ReaderAt
	size int64
}

func (e *exactReaderAt) ReadAt(p []byte, off int64) (int, error) {
	want := len(p)
	if off >= e.size {
		return 0, io.EOF
	}
	if rest := e.size - off; int64(want) > rest {
		want = int(rest)
	}
	n, err := e.r.ReadAt(p[:want], off)
	if n < want {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, fmt.Errorf("%d of %d bytes: %w", n, want, err)
	}
	if want < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// resync reports whether err is the collector naming another durable
// offset (an offset conflict, or a finish that finds bytes missing after a
// collector crash), and that offset; it gives up after maxConflicts.
func (c *HTTPClient) resync(err error, conflicts *int) (int64, bool) {
	var e *upload.Error
	if !errors.As(err, &e) || e.Offset < 0 || *conflicts >= maxConflicts ||
		(e.Reason != upload.ReasonOffsetConflict && e.Reason != upload.ReasonShortUpload) {
		return 0, false
	}
	*conflicts++
	return e.Offset, true
}

func (c *HTTPClient) create(ctx context.Context, cr upload.CreateRequest) (upload.Status, error) {
	body, _ := json.Marshal(cr)
	req, err := c.request(ctx, http.MethodPost, c.base, bytes.NewReader(body))
	if err != nil {
		return upload.Status{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	var st upload.Status
	if err := c.do(req, &st); err != nil {
		return upload.Status{}, err
	}
	if st.Receipt == nil && (st.Upload == "" || st.Offset < 0 || st.Offset > cr.Size || st.Size != cr.Size) {
		return upload.Status{}, fmt.Errorf("%w: create answered upload %q offset %d size %d", upload.ErrUnavailable, st.Upload, st.Offset, st.Size)
	}
	return st, nil
}

// Offset asks the collector for upload id's durable offset.
func (c *HTTPClient) Offset(ctx context.Context, id string) (int64, error) {
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
		return 0, &upload.Error{Status: resp.StatusCode, Reason: upload.Reason(http.StatusText(resp.StatusCode)),
			Message: "offset query refused", Offset: -1}
	}
	off, err := strconv.ParseInt(resp.Header.Get(upload.HeaderOffset), 10, 64)
	if err != nil || off < 0 {
		return 0, fmt.Errorf("%w: bad %s %q", upload.ErrUnavailable, upload.HeaderOffset, resp.Header.Get(upload.HeaderOffset))
	}
	return off, nil
}

func (c *HTTPClient) chunkAt(ctx context.Context, id string, off, n int64, r io.Reader, sum string) (int64, error) {
	body := &chunkBody{ctx: ctx, r: r, left: n, limiter: c.limiter}
	// The transport may still read a body after an early answer; after
	// this call returns, r is reset for another chunk.
	defer body.stop()
	req, err := c.request(ctx, http.MethodPatch, c.base+"/"+url.PathEscape(id), body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = n
	req.GetBody = nil
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(upload.HeaderOffset, strconv.FormatInt(off, 10))
	req.Header.Set(upload.HeaderChunkSHA256, sum)
	if err := c.do(req, nil); err != nil {
		return 0, err
	}
	return off + n, nil
}

// chunkBody is a chunk's request body: paced by the rate limiter, and cut
// off by stop so the buffer can be reused safely.
type chunkBody struct {
	ctx     context.Context // the upload's; only for the limiter's wait
	limiter *rate.Limiter   // nil: no cap

	mu      sync.Mutex
	r       io.Reader
	left    int64
	stopped bool
}

func (b *chunkBody) Read(q []byte) (int, error) {
	if b.limiter != nil {
		q = q[:min(len(q), rateBurst)]
		if err := b.limiter.WaitN(b.ctx, len(q)); err != nil {
			return 0, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return 0, errBodyStopped
	}
	if b.left == 0 {
		return 0, io.EOF
	}
	if int64(len(q)) > b.left {
		q = q[:b.left]
	}
	n, err := b.r.Read(q)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

func (b *chunkBody) Close() error { return nil }

func (b *chunkBody) stop() {
	b.mu.Lock()
	b.stopped, b.r = true, nil
	b.mu.Unlock()
}

var errBodyStopped = errors.New("uploader: chunk body read after its request ended")

func (c *HTTPClient) finish(ctx context.Context, id string) (upload.Status, error) {
	req, err := c.request(ctx, http.MethodPost, c.base+"/"+url.PathEscape(id)+"/finish", nil)
	if err != nil {
		return upload.Status{}, err
	}
	var st upload.Status
	return st, c.do(req, &st)
}

func (c *HTTPClient) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", upload.ErrArgument, err)
	}
	req.Header.Set(upload.HeaderDock, c.dock)
	req.Header.Set("Authorization", "Bearer "+c.token)
	return req, nil
}

func (c *HTTPClient) roundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		if cerr := req.Context().Err(); cerr != nil {
			return nil, fmt.Errorf("%w: %s %s: %w", upload.ErrUnavailable, req.Method, req.URL.Path, cerr)
		}
		return nil, fmt.Errorf("%w: %s %s: %w", upload.ErrUnavailable, req.Method, req.URL.Path, err)
	}
	return resp, nil
}

// maxAnswer bounds an answer's body.
const maxAnswer = 64 << 10

// do sends req and decodes a 2xx answer into out (if not nil), or an error
// answer into *upload.Error.
func (c *HTTPClient) do(req *http.Request, out any) error {
	resp, err := c.roundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%w: %s %s: reading answer: %w", upload.ErrUnavailable, req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &upload.Error{Status: resp.StatusCode, Offset: -1}
		var eb upload.ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Reason != "" {
			e.Reason, e.Message = eb.Reason, eb.Error
			if eb.Offset != nil {
				e.Offset = *eb.Offset
			}
		} else {
			e.Reason, e.Message = upload.Reason(strings.ToLower(http.StatusText(resp.StatusCode))), string(bytes.TrimSpace(b[:min(len(b), 200)]))
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%w: %s %s: bad answer: %w", upload.ErrUnavailable, req.Method, req.URL.Path, err)
		}
	}
	return nil
}
