package ingest

import (
	"errors"
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestBufferedTCPSchemes(t *testing.T) {
	for broker, want := range map[string]bool{"tcp://127.0.0.1:1883": true, "mqtt://h:1883": true,
		"ssl://h:8883": false, "tls://h:8883": false, "ws://h/mqtt": false, "unix:///run/m.sock": false, "::bad": false} {
		if got := bufferedTCP(broker) != nil; got != want {
			t.Errorf("%s: buffered %v, want %v", broker, got, want)
		}
	}
	t.Setenv("ALL_PROXY", "socks5://127.0.0.1:1080")
	if bufferedTCP("tcp://127.0.0.1:1883") != nil {
		t.Error("a proxy from the environment must keep paho's dialling")
	}
}

// TestBufferedTCPConn: bytes written by the peer in many small pieces come
// out whole and in order, one byte at a time as paho reads headers.
func TestBufferedTCPConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := make([]byte, 3*readBufSize+17)
	for i := range want {
		want[i] = byte(i * 7)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for i := 0; i < len(want); i += 1000 {
			c.Write(want[i:min(len(want), i+1000)])
		}
	}()
	open := bufferedTCP("tcp://" + ln.Addr().String())
	u, _ := url.Parse("tcp://" + ln.Addr().String())
	c, err := open(u, *paho.NewClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make([]byte, 0, len(want))
	one := make([]byte, 1)
	for len(got) < 5 { // header bytes, one read each
		if _, err := io.ReadFull(c, one); err != nil {
			t.Fatal(err)
		}
		got = append(got, one[0])
	}
	rest, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, rest...)
	if string(got) != string(want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
}

// TestBufferedTCPWrites: many small writes (as paho's PUBACKs) reach the
// peer whole and in order, Close writes what is still queued, and after the
// peer is gone a write fails (paho then drops the connection).
func TestBufferedTCPWrites(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(c)
		c.Close()
		got <- b
	}()
	u, _ := url.Parse("tcp://" + ln.Addr().String())
	c, err := bufferedTCP(u.String())(u, *paho.NewClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 100000 { // 400 kB in 4-byte writes: beyond maxQueued, so writers wait for room too
		p := []byte{0x40, 0x02, byte(i >> 8), byte(i)}
		want = append(want, p...)
		if n, err := c.Write(p); n != 4 || err != nil {
			t.Fatalf("write %d: %d %v", i, n, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != string(want) {
		t.Fatalf("peer read %d bytes, want the %d written", len(b), len(want))
	}
	if _, err := c.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}

	// A peer that goes away: writes fail soon after.
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
	}()
	c, err = bufferedTCP(u.String())(u, *paho.NewClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.Write(make([]byte, 1024)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writes to a closed peer never failed")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBufferedTCPWriteTimeout: a peer that stops reading makes writes fail
// after the write timeout, as paho's own writes would.
func TestBufferedTCPWriteTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			held <- c // never read
		}
	}()
	u, _ := url.Parse("tcp://" + ln.Addr().String())
	o := paho.NewClientOptions().SetWriteTimeout(200 * time.Millisecond)
	c, err := bufferedTCP(u.String())(u, *o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		start := time.Now()
		c.Close()
		if d := time.Since(start); d > 3*closeFlushTimeout {
			t.Errorf("Close took %s", d)
		}
		(<-held).Close()
	}()
	chunk := make([]byte, 64<<10)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := c.Write(chunk); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("write failed with %v, want a timeout", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("writes to a peer that does not read never timed out")
		}
	}
}
