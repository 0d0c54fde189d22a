package server

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// killer is a dialer whose connections die (closed, or the upload's ctx
// cancelled) once budget bytes were written over all of them.
type killer struct {
	budget  atomic.Int64
	cancel  context.CancelFunc // nil: close the connection instead
	mu      sync.Mutex
	conns   []net.Conn
	tripped atomic.Bool
}

func (k *killer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.conns = append(k.conns, c)
	k.mu.Unlock()
	return &killConn{Conn: c, k: k}, nil
}

type killConn struct {
	net.Conn
	k *killer
}

func (c *killConn) Write(p []byte) (int, error) {
	left := c.k.budget.Add(-int64(len(p)))
	if left >= 0 {
		return c.Conn.Write(p)
	}
	// Send part of this write, then die mid-stream.
	keep := max(int64(len(p))+left, 0)
	n, _ := c.Conn.Write(p[:keep])
	c.k.tripped.Store(true)
	if c.k.cancel != nil {
		c.k.cancel()
	}
	c.Conn.Close()
	return n, net.ErrClosed
}

func (e *env) killingClient(t *testing.T, k *killer, chunk int) *uploader.HTTPClient {
	tr := &http.Transport{DialContext: k.dial}
	t.Cleanup(tr.CloseIdleConnections)
	return e.client(t, uploader.ClientOpts{ChunkSize: chunk, HTTPClient: &http.Client{Transport: tr}})
}

func TestResumeAfterKills(t *testing.T) {
	for _, mode := range []string{"drop", "cancel"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sqliteBackend(t), 0)
			data, sum := payload(1<<20+777, 42)
			size := int64(len(data))
			rnd := rand.New(rand.NewPCG(uint64(len(mode)), 9))
			kills := 0
			var got bool
			for attempt := 0; attempt < 60 && !got; attempt++ {
				ctx, cancel := context.WithCancel(context.Background())
				k := &killer{}
				if mode == "cancel" {
					k.cancel = cancel
				}
				// Budgets up to an eighth of the upload: most attempts
				// die somewhere in a chunk, some in create or finish.
				k.budget.Store(rnd.Int64N(size/8) + 1)
				if kills >= 6 {
					k.budget.Store(1 << 40) // enough kills: let it finish
				}
				c := e.killingClient(t, k, 64<<10)
				var last int64 = -1
				r, err := c.Upload(ctx, "R9", 3, size, sum, bytes.NewReader(data), func(done int64) {
					if done < last {
						t.Errorf("progress went back from %d to %d", last, done)
					}
					last = done
				})
				cancel()
				switch {
				case err == nil:
					if err := r.Verify(e.pub, "R9", 3, sum, size); err != nil {
						t.Fatal(err)
					}
					got = true
				case k.tripped.Load():
					if !upload.Retryable(err) {
						t.Fatalf("attempt %d: a dropped connection gave a permanent error: %v", attempt, err)
					}
					kills++
				default:
					t.Fatalf("attempt %d failed without a kill: %v", attempt, err)
				}
			}
			if !got || kills < 6 {
				t.Fatalf("finished %v after %d kills", got, kills)
			}
			if !bytes.Equal(e.object(t, sum), data) {
				t.Fatal("object differs from the footage")
			}
			if n := e.receiptRows("R9", 3); n != 1 {
				t.Fatalf("%d receipt rows", n)
			}
			if n := e.receipts(outcomeIssued); n != 1 {
				t.Fatalf("%v receipts issued", n)
			}
			if len(e.objects()) != 1 || len(e.stagings()) != 0 {
				t.Fatalf("objects %v staging %v", e.objects(), e.stagings())
			}
		})
	}
}

func TestCollectorRestartMidUpload(t *testing.T) {
	both(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, 0)
		data, sum := payload(3<<20+5, 77)
		size := int64(len(data))
		k := &killer{}
		k.budget.Store(size / 2)
		_, err := e.killingClient(t, k, 256<<10).Upload(context.Background(), "R5", 11, size, sum, bytes.NewReader(data), nil)
		if !upload.Retryable(err) {
			t.Fatalf("first attempt: %v", err)
		}
		staged := e.stagings()
		if len(staged) != 1 {
			t.Fatalf("staging %v", staged)
		}
		st, err := e.ev.Staged(context.Background(), staged[0])
		if err != nil || st.Offset == 0 || st.Offset >= size {
			t.Fatalf("staged %+v %v", st, err)
		}

		e.restart() // new process: new store handle, evidence store, endpoint and port

		var first int64 = -1
		r, err := e.client(t, uploader.ClientOpts{ChunkSize: 256 << 10}).Upload(context.Background(), "R5", 11, size, sum,
			bytes.NewReader(data), func(done int64) {
				if first < 0 {
					first = done
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		if first != st.Offset {
			t.Fatalf("resumed at %d, the restarted collector held %d", first, st.Offset)
		}
		if sent := counterValue(e.srv.m.bytes); sent != float64(size-st.Offset) {
			t.Fatalf("restarted collector received %v bytes, want only the missing %d", sent, size-st.Offset)
		}
		if !bytes.Equal(e.object(t, r.ObjectID), data) || e.receiptRows("R5", 11) != 1 {
			t.Fatal("object or receipt wrong after restart")
		}
	})
}

// A receipt answered but lost on the way (the dock restarted before it
// stored it) is answered again, identical, by the next attempt.
func TestLostReceiptAnsweredAgain(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(200_000, 5)
	r1, err := e.client(t, uploader.ClientOpts{}).Upload(context.Background(), "R1", 1, 200_000, sum, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.restart()
	r2, err := e.client(t, uploader.ClientOpts{}).Upload(context.Background(), "R1", 1, 200_000, sum, bytes.NewReader(data), nil)
	if err != nil || r1 != r2 {
		t.Fatalf("%+v %v, want %+v", r2, err, r1)
	}
	if errors.Is(err, upload.ErrRejected) {
		t.Fatal(err)
	}
}
