package docklink_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/device/devicetest"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

var epoch = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)

// serve runs the reference device on one end of a net.Pipe, the devLink
// wrapper (if any) around its end, and returns a client on the other end.
func serve(t *testing.T, rec device.Backend, devLink func(net.Conn) io.ReadWriteCloser, copts *docklink.ClientOpts) *docklink.Client {
	t.Helper()
	dockEnd, devEnd := net.Pipe()
	var rw io.ReadWriteCloser = devEnd
	if devLink != nil {
		rw = devLink(devEnd)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- device.Serve(ctx, rw, rec, &device.Opts{MaxRead: 64 << 10}) }()
	c := docklink.NewClient(dockEnd, copts)
	t.Cleanup(func() {
		c.Close()
		cancel()
		devEnd.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return c
}

func open(t *testing.T, c *docklink.Client, rec *devicetest.Recorder) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, docklink.Keys{rec.Info().Serial: rec.PublicKey()}); err != nil {
		t.Fatal(err)
	}
}

func TestClientSession(t *testing.T) {
	rec := devicetest.New("BWC-1", 1, nil)
	rec.SetClockOffset(-90 * time.Second)
	segs := rec.AddRandom(5, 1000, 1, epoch)
	c := serve(t, rec, nil, &docklink.ClientOpts{PageSize: 2, DockID: "dock-test"})
	open(t, c, rec)
	ctx := context.Background()

	st, err := c.Status(ctx)
	if err != nil || st.LastSeq != 5 || st.Battery.MilliVolts != 4010 {
		t.Fatalf("status %+v, %v", st, err)
	}
	rd, err := c.Clock(ctx)
	if err != nil || rd.Offset > -89*time.Second || rd.Offset < -91*time.Second {
		t.Fatalf("clock offset %v, %v", rd.Offset, err)
	}
	ack, err := c.SetClock(ctx, time.Time{})
	if err != nil || ack.Now.Sub(ack.Previous) < 89*time.Second {
		t.Fatalf("set clock %+v, %v", ack, err)
	}
	inv, err := c.Inventory(ctx) // three pages of at most two
	if err != nil || len(inv) != 5 {
		t.Fatalf("inventory %d, %v", len(inv), err)
	}
	for i := range inv {
		if inv[i].Seq != segs[i].Seq || inv[i].SHA256 != segs[i].SHA256 || !inv[i].Start.Equal(segs[i].Start) {
			t.Fatalf("segment %d: %+v, want %+v", i, inv[i], segs[i])
		}
	}
	evs, err := c.Events(ctx)
	if err != nil || len(evs) != 6 || evs[5].Kind != docklink.EventClockSet {
		t.Fatalf("events %+v, %v", evs, err)
	}
	var buf bytes.Buffer
	if n, err := c.CopySegment(ctx, inv[2], 0, nil, &buf); err != nil || n != 1000 || !bytes.Equal(buf.Bytes(), rec.Data(3)) {
		t.Fatalf("copy %d, %v", n, err)
	}
	if err := c.Release(ctx, 3, sha256.Sum256([]byte("wrong"))); !docklink.IsCode(err, docklink.CodeHashMismatch) {
		t.Fatalf("release with a wrong hash: %v", err)
	}
	if err := c.Release(ctx, 3, inv[2].SHA256); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(ctx, 3, inv[2].SHA256); !docklink.IsCode(err, docklink.CodeUnknownSegment) {
		t.Fatalf("second release: %v", err)
	}
	if got := rec.Released(); len(got) != 1 || got[0] != 3 {
		t.Fatalf("released %v", got)
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestClientAuthentication(t *testing.T) {
	rec := devicetest.New("BWC-1", 1, nil)
	other := devicetest.New("BWC-1", 2, nil) // same serial, different key
	tests := []struct {
		name string
		keys docklink.Keys
		want error
	}{
		{"enrolled", docklink.Keys{"BWC-1": rec.PublicKey()}, nil},
		{"not enrolled", docklink.Keys{"BWC-2": rec.PublicKey()}, docklink.ErrUnknownDevice},
		{"wrong key", docklink.Keys{"BWC-1": other.PublicKey()}, docklink.ErrAuthFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, rec, nil, nil)
			ctx := context.Background()
			if _, err := c.Authenticate(ctx, tc.keys); !errors.Is(err, docklink.ErrNotNegotiated) {
				t.Fatalf("before hello: %v", err)
			}
			if _, err := c.Hello(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Authenticate(ctx, tc.keys); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// The dock derives its challenge from its id, its clock and a random salt
// (§6.5): the device signs exactly that, so the proof Authenticate returns
// checks out with the device's key for this dock and this time only.
func TestClientAuthenticateProof(t *testing.T) {
	rec := devicetest.New("BWC-1", 1, nil)
	at := time.Date(2026, 11, 25, 7, 0, 0, 123456789, time.UTC)
	var salt [docklink.SaltSize]byte
	for i := range salt {
		salt[i] = byte(0xa0 + i)
	}
	c := serve(t, rec, nil, &docklink.ClientOpts{DockID: "dock-7", Now: func() time.Time { return at },
		Rand: bytes.NewReader(salt[:])})
	ctx := context.Background()
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	info, p, err := c.AuthenticateProof(ctx, docklink.Keys{"BWC-1": rec.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	if info.Serial != "BWC-1" || p.Dock != "dock-7" || !p.At.Equal(at) || p.Salt != salt || p.Serial != "BWC-1" {
		t.Fatalf("info %+v, proof %+v", info, p)
	}
	// The device signed the derived nonce, not the salt or anything else.
	if !docklink.VerifyAuth(rec.PublicKey(), docklink.DockNonce("dock-7", at, salt), "BWC-1", p.Signature) {
		t.Fatal("the signature is not over DockNonce(dock, time, salt)")
	}
	var raw [docklink.NonceSize]byte
	copy(raw[:], salt[:])
	if docklink.VerifyAuth(rec.PublicKey(), raw, "BWC-1", p.Signature) {
		t.Fatal("the signature is over the raw random bytes")
	}
	if !p.Verify(rec.PublicKey()) {
		t.Fatal("the proof does not verify")
	}
	moved := p
	moved.Dock = "dock-8"
	if moved.Verify(rec.PublicKey()) {
		t.Fatal("the proof verifies for another dock")
	}
	// The salt comes from Rand: once it is spent, no challenge is sent.
	if _, _, err := c.AuthenticateProof(ctx, docklink.Keys{"BWC-1": rec.PublicKey()}); err == nil {
		t.Fatal("authenticated without random bytes for the salt")
	}
}

func TestDeviceRefusesBeforeAuth(t *testing.T) {
	rec := devicetest.New("BWC-1", 1, nil)
	rec.AddRandom(1, 10, 1, epoch)
	c := serve(t, rec, nil, nil)
	ctx := context.Background()
	if _, err := c.Do(ctx, &docklink.Read{Seq: 1, Length: 10}); !docklink.IsCode(err, docklink.CodeHelloRequired) {
		t.Fatalf("read before hello: %v", err)
	}
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	for _, req := range []docklink.Message{&docklink.Read{Seq: 1, Length: 10}, &docklink.InventoryGet{MaxCount: 1},
		&docklink.Release{Seq: 1}, &docklink.StatusGet{}, &docklink.ClockSet{Time: epoch}} {
		if _, err := c.Do(ctx, req); !docklink.IsCode(err, docklink.CodeAuthRequired) {
			t.Fatalf("%s before auth: %v", req.Type(), err)
		}
	}
	if rec.Data(1) == nil {
		t.Fatal("segment released before auth")
	}
}

// cutLink closes the device's end of the link after limit bytes written.
type cutLink struct {
	net.Conn
	mu      sync.Mutex
	written int
	limit   int
}

func (l *cutLink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.written+len(p) > l.limit {
		n, _ := l.Conn.Write(p[:l.limit-l.written])
		l.written += n
		l.Conn.Close()
		return n, net.ErrClosed
	}
	n, err := l.Conn.Write(p)
	l.written += n
	return n, err
}

func TestReadResumesAfterLinkDrop(t *testing.T) {
	rec := devicetest.New("BWC-1", 1, nil)
	seg := rec.AddRandom(1, 1<<20, 9, epoch)[0]
	copts := &docklink.ClientOpts{ReadSize: 16 << 10, Window: 4, RequestTimeout: 5 * time.Second}
	c := serve(t, rec, func(c net.Conn) io.ReadWriteCloser { return &cutLink{Conn: c, limit: 300 << 10} }, copts)
	open(t, c, rec)
	ctx := context.Background()
	var durable bytes.Buffer // what the dock's buffer holds
	h := sha256.New()
	n, err := c.CopySegment(ctx, seg, 0, h, &durable)
	if !errors.Is(err, docklink.ErrLinkDown) {
		t.Fatalf("first copy: %d bytes, %v; want ErrLinkDown", n, err)
	}
	if n == 0 || n >= int64(seg.Size) || n != int64(durable.Len()) || n%(16<<10) != 0 {
		t.Fatalf("first copy wrote %d bytes (buffer %d)", n, durable.Len())
	}
	// A new link, a new session, resume at the durable offset with the hash
	// of what is durable.
	c2 := serve(t, rec, nil, copts)
	open(t, c2, rec)
	n2, err := c2.CopySegment(ctx, seg, n, h, &durable)
	if err != nil || n+n2 != int64(seg.Size) {
		t.Fatalf("resume: %d+%d bytes, %v", n, n2, err)
	}
	if !bytes.Equal(durable.Bytes(), rec.Data(seg.Seq)) {
		t.Fatal("resumed copy differs from the recorder's bytes")
	}
}

func TestCopySegmentDetectsWrongHash(t *testing.T) {
	rec := devicetest.New("BWC-1", 1, nil)
	seg := rec.AddRandom(1, 5000, 3, epoch)[0]
	rec.CorruptHash(seg.Seq)
	c := serve(t, rec, nil, nil)
	open(t, c, rec)
	inv, err := c.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CopySegment(context.Background(), inv[0], 0, nil, io.Discard); !errors.Is(err, docklink.ErrHashMismatch) {
		t.Fatalf("got %v, want ErrHashMismatch", err)
	}
}

// slowWriter makes the consumer slower than the request timeout.
type slowWriter struct{ d time.Duration }

func (s slowWriter) Write(p []byte) (int, error) { time.Sleep(s.d); return len(p), nil }

func TestSlowConsumerIsNotATimeout(t *testing.T) {
	rec := devicetest.New("BWC-1", 1, nil)
	seg := rec.AddRandom(1, 8<<10, 4, epoch)[0]
	c := serve(t, rec, nil, &docklink.ClientOpts{ReadSize: 1 << 10, Window: 8, RequestTimeout: 100 * time.Millisecond})
	open(t, c, rec)
	// Each write takes 60 ms: the later READs of the window were answered
	// long before they are consumed, more than RequestTimeout after sending.
	if _, err := c.CopySegment(context.Background(), seg, 0, nil, slowWriter{60 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}

// noisyLink corrupts the n-th frame the dock writes (one Write per frame),
// as line noise would: the device answers ERROR CRC with id 0.
type noisyLink struct {
	net.Conn
	mu    sync.Mutex
	count int
	n     int
}

func (l *noisyLink) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.count++
	hit := l.count == l.n
	l.mu.Unlock()
	if hit && len(p) > 20 {
		q := append([]byte(nil), p...)
		q[len(q)/2] ^= 0x20
		if q[len(q)/2] == 0 { // keep the COBS block free of 0x00
			q[len(q)/2] = 0x7F
		}
		return l.Conn.Write(q)
	}
	return l.Conn.Write(p)
}

func TestReadRetriesAfterLineNoise(t *testing.T) {
	rec := devicetest.New("BWC-1", 1, nil)
	seg := rec.AddRandom(1, 64<<10, 5, epoch)[0]
	dockEnd, devEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- device.Serve(ctx, devEnd, rec, nil) }()
	// Writes: 0x00, HELLO, AUTH, then READs: corrupt the third READ.
	c := docklink.NewClient(&noisyLink{Conn: dockEnd, n: 6}, &docklink.ClientOpts{ReadSize: 4 << 10, Window: 4, RequestTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { c.Close(); cancel(); devEnd.Close(); <-done })
	open(t, c, rec)
	var out bytes.Buffer
	if _, err := c.CopySegment(ctx, seg, 0, nil, &out); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.LinkErrors != 1 || st.Timeouts != 1 {
		t.Fatalf("stats %+v, want one device-reported bad frame and one timeout", st)
	}
	if !bytes.Equal(out.Bytes(), rec.Data(seg.Seq)) {
		t.Fatal("copy differs")
	}
}
