package conformance

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

func TestSettledWaitsAfterClose(t *testing.T) {
	var opened []time.Time
	dial := Settled(func(context.Context) (io.ReadWriteCloser, error) {
		opened = append(opened, time.Now())
		a, b := net.Pipe()
		b.Close()
		return a, nil
	}, 50*time.Millisecond)
	l1, err := dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l1.Close()
	closed := time.Now()
	l2, err := dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if len(opened) != 2 || opened[1].Sub(closed) < 50*time.Millisecond {
		t.Fatalf("second link opened %s after the first closed, want >= 50ms", opened[1].Sub(closed))
	}
	// A cancelled context ends the wait.
	l2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := dial(ctx); err == nil {
		t.Fatal("dial waited through a cancelled context")
	}
}
