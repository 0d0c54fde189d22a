package docklink_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// shuffler is a scripted device that answers HELLO at once and then holds
// each batch of `batch` requests and answers it in reverse order, to prove
// the client matches responses by id. PING is never answered.
func shuffler(t *testing.T, conn net.Conn, data []byte, batch int) {
	fr := docklink.NewFramer(conn, conn)
	fr.SetLimits(docklink.MaxPayload, docklink.MaxPayload)
	type held struct {
		id  uint32
		msg docklink.Message
	}
	var q []held
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		req, err := docklink.Decode(f.Type, f.Payload)
		if err != nil {
			t.Errorf("shuffler: %v", err)
			return
		}
		var resp docklink.Message
		switch m := req.(type) {
		case *docklink.Hello:
			resp = &docklink.HelloAck{Version: 1, MaxPayload: docklink.MaxPayload, MaxRead: 1 << 10, MaxOutstanding: uint16(batch)}
		case *docklink.Ping:
			continue
		case *docklink.Read:
			end := min(m.Offset+uint64(m.Length), uint64(len(data)))
			resp = &docklink.Data{Seq: m.Seq, Offset: m.Offset, Bytes: data[m.Offset:end]}
		case *docklink.StatusGet:
			resp = &docklink.Status{LastSeq: uint64(f.ReqID)}
		default:
			resp = &docklink.Error{Code: docklink.CodeUnsupported}
		}
		if _, ok := req.(*docklink.Hello); ok {
			if fr.WriteMessage(f.ReqID, resp) != nil {
				return
			}
			continue
		}
		q = append(q, held{f.ReqID, resp})
		last := false
		if r, ok := req.(*docklink.Read); ok && r.Offset+uint64(r.Length) >= uint64(len(data)) {
			last = true
		}
		if len(q) == batch || last {
			for _, h := range slices.Backward(q) {
				if fr.WriteMessage(h.id, h.msg) != nil {
					return
				}
			}
			q = q[:0]
		}
	}
}

func TestOutOfOrderResponses(t *testing.T) {
	data := make([]byte, 10*1024+100)
	for i := range data {
		data[i] = byte(i * 7)
	}
	dockEnd, devEnd := net.Pipe()
	done := make(chan struct{})
	go func() { defer close(done); shuffler(t, devEnd, data, 4) }()
	c := docklink.NewClient(dockEnd, &docklink.ClientOpts{Window: 8, RequestTimeout: time.Second})
	t.Cleanup(func() { c.Close(); devEnd.Close(); <-done })
	ctx := context.Background()
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	// Reads: window capped at MaxOutstanding 4, each batch answered backwards.
	seg := docklink.Segment{Seq: 1, Size: uint64(len(data)), SHA256: sha256.Sum256(data)}
	var out bytes.Buffer
	if n, err := c.CopySegment(ctx, seg, 0, nil, &out); err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("copy %d, %v", n, err)
	}
	// Concurrent requests: each gets the answer carrying its own id.
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			m, err := c.Do(ctx, &docklink.StatusGet{})
			if err == nil && m.(*docklink.Status).LastSeq == 0 {
				err = errors.New("status without id")
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A request never answered times out; the link stays usable.
	if _, err := c.Ping(ctx); !errors.Is(err, docklink.ErrRequestTimeout) {
		t.Fatalf("ping: %v, want ErrRequestTimeout", err)
	}
	if c.Stats().Timeouts != 1 {
		t.Fatalf("stats %+v", c.Stats())
	}
}

func TestRequestHonoursContext(t *testing.T) {
	dockEnd, devEnd := net.Pipe()
	done := make(chan struct{})
	go func() { defer close(done); shuffler(t, devEnd, nil, 1) }()
	c := docklink.NewClient(dockEnd, nil)
	t.Cleanup(func() { c.Close(); devEnd.Close(); <-done })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestClosedClient(t *testing.T) {
	dockEnd, devEnd := net.Pipe()
	defer devEnd.Close()
	go func() { // drain the initial delimiter
		b := make([]byte, 16)
		devEnd.Read(b)
	}()
	c := docklink.NewClient(dockEnd, nil)
	c.Close()
	if _, err := c.Ping(context.Background()); !errors.Is(err, docklink.ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
}
