package device_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/device/devicetest"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

var epoch = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)

// rawLink is a dock-side Framer on a net.Pipe to a served device.
type rawLink struct {
	t  *testing.T
	fr *docklink.Framer
	c  net.Conn
}

func newRaw(t *testing.T, b device.Backend, opts *device.Opts) *rawLink {
	dockEnd, devEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- device.Serve(ctx, devEnd, b, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		dockEnd.Close()
	})
	fr := docklink.NewFramer(dockEnd, dockEnd)
	fr.SetLimits(docklink.MaxPayload, docklink.MaxPayload)
	return &rawLink{t: t, fr: fr, c: dockEnd}
}

func (l *rawLink) raw(b []byte) {
	l.t.Helper()
	if err := l.fr.WriteRaw(b); err != nil {
		l.t.Fatal(err)
	}
}

func (l *rawLink) send(id uint32, m docklink.Message) {
	l.t.Helper()
	if err := l.fr.WriteMessage(id, m); err != nil {
		l.t.Fatal(err)
	}
}

func (l *rawLink) recv() (uint32, docklink.Message) {
	l.t.Helper()
	l.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := l.fr.ReadFrame()
	if err != nil {
		l.t.Fatal(err)
	}
	m, err := docklink.Decode(f.Type, f.Payload)
	if err != nil {
		l.t.Fatal(err)
	}
	return f.ReqID, m
}

// expectCode reads one response and checks it is ERROR code with id.
func (l *rawLink) expectCode(id uint32, code docklink.ErrorCode) {
	l.t.Helper()
	gotID, m := l.recv()
	e, ok := m.(*docklink.Error)
	if !ok || e.Code != code || gotID != id {
		l.t.Fatalf("got id %d %+v, want id %d ERROR %s", gotID, m, id, code)
	}
}

func (l *rawLink) hello(id uint32) *docklink.HelloAck {
	l.t.Helper()
	l.send(id, &docklink.Hello{MinVersion: 1, MaxVersion: 1, MaxPayload: docklink.MaxPayload})
	_, m := l.recv()
	ack, ok := m.(*docklink.HelloAck)
	if !ok {
		l.t.Fatalf("hello answered with %+v", m)
	}
	return ack
}

func (l *rawLink) auth(id uint32) {
	l.t.Helper()
	l.send(id, &docklink.AuthChallenge{})
	if _, m := l.recv(); m.Type() != docklink.TypeAuthResponse {
		l.t.Fatalf("auth answered with %+v", m)
	}
}

func TestStateMachine(t *testing.T) {
	rec := devicetest.New("BWC-9", 3, nil)
	rec.AddRandom(2, 100, 1, epoch)
	l := newRaw(t, rec, nil)
	l.send(1, &docklink.Ping{})
	if _, m := l.recv(); m.Type() != docklink.TypePong {
		t.Fatalf("ping before hello: %+v", m)
	}
	l.send(2, &docklink.InventoryGet{MaxCount: 10})
	l.expectCode(2, docklink.CodeHelloRequired)
	l.send(3, &docklink.AuthChallenge{})
	l.expectCode(3, docklink.CodeHelloRequired)
	l.send(4, &docklink.Hello{MinVersion: 2, MaxVersion: 3, MaxPayload: docklink.MaxPayload})
	l.expectCode(4, docklink.CodeBadVersion)
	ack := l.hello(5)
	if ack.Info.Serial != "BWC-9" || ack.MaxRead != 256<<10 || ack.Capabilities != docklink.CapAll&^docklink.CapFirmware {
		t.Fatalf("ack %+v", ack)
	}
	l.send(6, &docklink.Read{Seq: 1, Length: 10})
	l.expectCode(6, docklink.CodeAuthRequired)
	l.auth(7)
	l.send(8, &docklink.Read{Seq: 1, Length: 10})
	if _, m := l.recv(); m.Type() != docklink.TypeData {
		t.Fatalf("read after auth: %+v", m)
	}
	l.hello(9) // HELLO restarts the session: auth again
	l.send(10, &docklink.Read{Seq: 1, Length: 10})
	l.expectCode(10, docklink.CodeAuthRequired)
}

func TestRequestRefusals(t *testing.T) {
	rec := devicetest.New("BWC-9", 3, nil)
	segs := rec.AddRandom(2, 100, 1, epoch)
	l := newRaw(t, rec, &device.Opts{MaxRead: 64})
	l.hello(1)
	l.auth(2)
	tests := []struct {
		name string
		req  docklink.Message
		code docklink.ErrorCode
	}{
		{"unknown segment", &docklink.Read{Seq: 99, Length: 10}, docklink.CodeUnknownSegment},
		{"offset beyond end", &docklink.Read{Seq: 1, Offset: 101, Length: 10}, docklink.CodeOutOfRange},
		{"length above max read", &docklink.Read{Seq: 1, Length: 65}, docklink.CodeOutOfRange},
		{"release wrong hash", &docklink.Release{Seq: 1, SHA256: segs[1].SHA256}, docklink.CodeHashMismatch},
		{"release unknown", &docklink.Release{Seq: 7, SHA256: segs[0].SHA256}, docklink.CodeUnknownSegment},
		{"clock zero", &docklink.ClockSet{}, docklink.CodeBadClock},
		{"clock refused by backend", &docklink.ClockSet{Time: time.Unix(1, 0)}, docklink.CodeBadClock},
		{"response type as request", &docklink.Pong{}, docklink.CodeUnknownType},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			l.send(uint32(100+i), tc.req)
			l.expectCode(uint32(100+i), tc.code)
		})
	}
	l.t = t
	if rec.Data(1) == nil {
		t.Fatal("segment freed by a refused release")
	}
	// Short read at the end of a segment.
	l.send(200, &docklink.Read{Seq: 1, Offset: 90, Length: 64})
	if _, m := l.recv(); len(m.(*docklink.Data).Bytes) != 10 {
		t.Fatalf("tail read: %+v", m)
	}
}

func TestFrameRejections(t *testing.T) {
	rec := devicetest.New("BWC-9", 3, nil)
	l := newRaw(t, rec, nil)
	ping := func(id uint32) []byte {
		var b bytes.Buffer
		fr := docklink.NewFramer(nil, &b)
		fr.WriteMessage(id, &docklink.Ping{})
		return b.Bytes()
	}
	// Garbage then a delimiter: one BAD_FRAME (id 0), then the next frame works.
	l.raw([]byte("\x01\x02line noise\x00"))
	l.expectCode(0, docklink.CodeBadFrame)
	l.raw(ping(5))
	if id, m := l.recv(); id != 5 || m.Type() != docklink.TypePong {
		t.Fatalf("after garbage: %d %+v", id, m)
	}
	// CRC error: answered with id 0.
	plain := docklink.AppendFrame(nil, docklink.Header{Version: 1, Type: docklink.TypePing, ReqID: 6}, nil)
	plain[len(plain)-1] ^= 0xFF
	l.raw(append(docklink.AppendCOBS(nil, plain), 0))
	l.expectCode(0, docklink.CodeCRC)
	// Oversize before HELLO (limit 4096): FRAME_TOO_LARGE.
	big := docklink.AppendFrame(nil, docklink.Header{Version: 1, Type: docklink.TypePing, ReqID: 7}, make([]byte, 5000))
	l.raw(append(docklink.AppendCOBS(nil, big), 0))
	l.expectCode(0, docklink.CodeFrameTooLarge)
	// Unknown type with a good CRC: the id is echoed.
	l.fr.WriteFrame(docklink.Header{Version: 1, Type: 0x42, ReqID: 8}, nil)
	l.expectCode(8, docklink.CodeUnknownType)
	// Malformed payload.
	l.fr.WriteFrame(docklink.Header{Version: 1, Type: docklink.TypeHello, ReqID: 9}, []byte{1})
	l.expectCode(9, docklink.CodeBadMessage)
	l.raw(ping(10))
	if id, _ := l.recv(); id != 10 {
		t.Fatalf("link unusable after rejections: id %d", id)
	}
}

func TestServeStopsOnContext(t *testing.T) {
	dockEnd, devEnd := net.Pipe()
	defer dockEnd.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- device.Serve(ctx, devEnd, devicetest.New("X", 1, nil), nil) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestServeReturnsLinkError(t *testing.T) {
	dockEnd, devEnd := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- device.Serve(context.Background(), devEnd, devicetest.New("X", 1, nil), nil) }()
	dockEnd.Close()
	if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("got %v, want nil on link end", err)
	}
}
