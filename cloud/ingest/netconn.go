package ingest

import (
	"bufio"
	"net"
	"net/url"
	"os"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// paho reads each packet straight from the connection: the fixed header a
// byte at a time, then the rest, so a plain TCP connection costs four or
// five read system calls per message (a quarter of the collector's CPU in
// BenchmarkIngestMosquittoPostgres's profile). bufferedTCP gives it a
// connection whose reads go through a buffer: one system call brings in
// many messages. TLS connections already read whole records, and other
// schemes (ws, unix) or a proxy from the environment keep paho's own
// dialling.

// readBufSize holds a few dozen typical reports.
const readBufSize = 32 << 10

// bufferedTCP returns the connection opener for broker, or nil when paho's
// own should be used.
func bufferedTCP(broker string) paho.OpenConnectionFunc {
	u, err := url.Parse(broker)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") {
		return nil
	}
	for _, v := range []string{"ALL_PROXY", "all_proxy"} {
		if os.Getenv(v) != "" {
			return nil // paho dials through the proxy
		}
	}
	return func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
		d := o.Dialer
		if d == nil {
			d = &net.Dialer{Timeout: o.ConnectTimeout}
		}
		c, err := d.Dial("tcp", uri.Host)
		if err != nil {
			return nil, err
		}
		return &readBufConn{Conn: c, r: bufio.NewReaderSize(c, readBufSize)}, nil
	}
}

// readBufConn is a net.Conn whose reads are buffered; writes, deadlines and
// Close go to the connection.
type readBufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *readBufConn) Read(p []byte) (int, error) { return c.r.Read(p) }
