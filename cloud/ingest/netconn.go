package ingest

import (
	"bufio"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// paho reads each packet straight from the connection: the fixed header a
// byte at a time, then the rest, so a plain TCP connection costs four or
// five read system calls per message (a quarter of the collector's CPU in
// BenchmarkIngestMosquittoPostgres's profile); and it writes each packet
// with its own system call, so a committed batch's hundreds of PUBACKs cost
// as many writes (a fifth of the CPU, and as many segments for the broker
// to read). bufferedTCP gives it a connection whose reads go through a
// buffer, and whose writes are queued and written by one flusher goroutine:
// what paho writes while a write is in the kernel goes out together in the
// next one. TLS connections already read whole records, and other schemes
// (ws, unix) or a proxy from the environment keep paho's own dialling.

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
		return newBufConn(c, o.WriteTimeout), nil
	}
}

// maxQueued bounds the bytes a bufConn holds for its flusher: a writer
// waits beyond it.
const maxQueued = 256 << 10

// closeFlushTimeout bounds how long Close waits for queued bytes to be
// written (a stalled peer must not hold it).
const closeFlushTimeout = time.Second

// bufConn is a net.Conn whose reads are buffered and whose writes are
// queued for a flusher goroutine. A write error is returned by the next
// Write (paho then drops the connection, as for an error of its own write).
// Write deadlines are the flusher's: each write it makes must finish within
// writeTimeout (paho's WriteTimeout; paho's own SetWriteDeadline calls,
// made around each of its writes, would otherwise race with them). Close
// writes what is queued (within closeFlushTimeout), stops and joins the
// flusher, then closes the connection.
type bufConn struct {
	net.Conn
	r            *bufio.Reader
	writeTimeout time.Duration
	wall         clockwork.Clock // deadlines on the socket are wall-clock times

	mu     sync.Mutex
	cond   *sync.Cond // signals queued bytes, room, or closing
	queued []byte
	spare  []byte
	err    error // of the flusher's last write
	closed bool
	done   chan struct{} // closed when the flusher returns
	once   sync.Once
	cerr   error
}

func newBufConn(c net.Conn, writeTimeout time.Duration) *bufConn {
	b := &bufConn{Conn: c, r: bufio.NewReaderSize(c, readBufSize), writeTimeout: writeTimeout, wall: clockwork.NewRealClock(), done: make(chan struct{})}
	b.cond = sync.NewCond(&b.mu)
	go b.flush()
	return b
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// SetWriteDeadline is ignored: the flusher bounds each write it makes.
func (c *bufConn) SetWriteDeadline(time.Time) error { return nil }

// SetDeadline sets the read deadline (see SetWriteDeadline).
func (c *bufConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

func (c *bufConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queued) >= maxQueued && c.err == nil && !c.closed {
		c.cond.Wait()
	}
	switch {
	case c.err != nil:
		return 0, c.err
	case c.closed:
		return 0, net.ErrClosed
	}
	c.queued = append(c.queued, p...)
	c.cond.Broadcast()
	return len(p), nil
}

// flush writes what is queued, in order, until Close.
func (c *bufConn) flush() {
	defer close(c.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.queued) == 0 && !c.closed {
			c.cond.Wait()
		}
		if len(c.queued) == 0 || c.err != nil {
			if c.closed {
				return
			}
			c.queued = c.queued[:0] // after an error nothing more is written
			continue
		}
		buf := c.queued
		c.queued = c.spare[:0]
		limit := c.writeTimeout
		if c.closed {
			limit = closeFlushTimeout
		}
		c.mu.Unlock()
		var err error
		if limit > 0 {
			err = c.Conn.SetWriteDeadline(c.wall.Now().Add(limit))
		}
		if err == nil {
			_, err = c.Conn.Write(buf)
		}
		c.mu.Lock()
		c.spare = buf[:0]
		if err != nil {
			c.err = err
		}
		c.cond.Broadcast() // room for waiting writers
	}
}

func (c *bufConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.cond.Broadcast()
		c.mu.Unlock()
		c.Conn.SetWriteDeadline(c.wall.Now().Add(closeFlushTimeout))
		<-c.done
		c.cerr = c.Conn.Close()
	})
	return c.cerr
}
