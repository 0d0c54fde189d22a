package ingest

import (
	"io"
	"net"
	"net/url"
	"testing"

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
