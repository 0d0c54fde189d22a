package conformance

import (
	"context"
	"io"
	"sync"
	"time"
)

// LineSettle is how long a serial link should stay closed before the suite
// opens it again. A device learns that the dock closed its port when the
// control line (DTR) drops (PROTOCOL.md §3.1); seeing that takes it a
// moment (recsim polls a pty every 2 ms, USB firmware handles the control
// transfer in its own time), and a port reopened faster can look to the
// device like the same session, still busy with the old one's requests.
// A real dock never reopens that fast: a recorder is pulled and docked.
const LineSettle = 100 * time.Millisecond

// Settled wraps dial so that each new link opens no sooner than settle
// after the previous one it made was closed. Use it for serial ports; TCP
// connections end at once and need no settling.
func Settled(dial Dialer, settle time.Duration) Dialer {
	s := &settler{dial: dial, settle: settle}
	return s.open
}

type settler struct {
	dial   Dialer
	settle time.Duration

	mu     sync.Mutex
	closed time.Time // when the last link closed; zero if none yet or open
}

func (s *settler) open(ctx context.Context) (io.ReadWriteCloser, error) {
	var wait time.Duration
	s.mu.Lock()
	if !s.closed.IsZero() {
		wait = time.Until(s.closed.Add(s.settle))
	}
	s.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	link, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &settledLink{ReadWriteCloser: link, s: s}, nil
}

type settledLink struct {
	io.ReadWriteCloser
	s    *settler
	once sync.Once
}

func (l *settledLink) Close() error {
	err := l.ReadWriteCloser.Close()
	l.once.Do(func() {
		l.s.mu.Lock()
		l.s.closed = time.Now()
		l.s.mu.Unlock()
	})
	return err
}
