package docklink_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"fmt"
	"net"
	"time"

	"github.com/berthdock/berth/firmware-protocol/device"
	"github.com/berthdock/berth/firmware-protocol/device/devicetest"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// A dock's conversation with a docked recorder: open the session,
// authenticate against the enrolled key, read status and inventory, copy a
// segment with SHA-256 verification, and release it once it is safe.
func ExampleClient() {
	// A recorder with two segments, served by the reference firmware over
	// an in-memory link (a serial port or TCP connection in real life).
	rec := devicetest.New("BWC-0001", 1, nil)
	rec.AddRandom(2, 100_000, 1, time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC))
	dockEnd, devEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- device.Serve(ctx, devEnd, rec, nil) }()
	defer func() { cancel(); <-served }()

	c := docklink.NewClient(dockEnd, &docklink.ClientOpts{DockID: "dock-7"})
	defer c.Close()
	if _, err := c.Hello(ctx); err != nil {
		fmt.Println(err)
		return
	}
	enrolled := docklink.Keys{"BWC-0001": rec.PublicKey()}
	info, err := c.Authenticate(ctx, enrolled)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	st, _ := c.Status(ctx)
	segs, _ := c.Inventory(ctx)
	fmt.Printf("%s: battery %d%%, %d segments\n", info.Serial, st.Battery.Percent, len(segs))

	var buf bytes.Buffer
	n, err := c.CopySegment(ctx, segs[0], 0, nil, &buf)
	fmt.Printf("seq %d: %d bytes, verified: %v\n", segs[0].Seq, n, err == nil)

	// ... the buffer is synced, uploaded, and the evidence store's receipt
	// for exactly this hash is durable: only now release.
	if err := c.Release(ctx, segs[0].Seq, segs[0].SHA256); err != nil {
		fmt.Println(err)
	}
	left, _ := c.Inventory(ctx)
	fmt.Printf("left on the recorder: %d segment(s), first seq %d\n", len(left), left[0].Seq)
	// Output:
	// BWC-0001: battery 87%, 2 segments
	// seq 1: 100000 bytes, verified: true
	// left on the recorder: 1 segment(s), first seq 2
}

// Resuming a copy after the recorder was pulled out mid-read: the dock
// keeps the bytes already durable and the SHA-256 state over them (the
// sha256 digest marshals its state, so it survives a dockd restart), then
// continues on a new session at that offset.
func ExampleClient_CopySegment_resume() {
	rec := devicetest.New("BWC-0001", 1, nil)
	seg := rec.AddRandom(1, 300_000, 2, time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC))[0]

	// Pretend the first session made 120000 bytes durable before the link
	// dropped, and the hash state was saved with them.
	durable := bytes.NewBuffer(append([]byte(nil), rec.Data(seg.Seq)[:120_000]...))
	h := sha256.New()
	h.Write(durable.Bytes())
	saved, _ := h.(encoding.BinaryMarshaler).MarshalBinary()

	// New link, new session.
	dockEnd, devEnd := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- device.Serve(ctx, devEnd, rec, nil) }()
	defer func() { cancel(); <-served }()
	c := docklink.NewClient(dockEnd, nil)
	defer c.Close()
	c.Hello(ctx)
	if _, err := c.Authenticate(ctx, docklink.Keys{"BWC-0001": rec.PublicKey()}); err != nil {
		fmt.Println(err)
		return
	}
	restored := sha256.New()
	restored.(encoding.BinaryUnmarshaler).UnmarshalBinary(saved)
	n, err := c.CopySegment(ctx, seg, int64(durable.Len()), restored, durable)
	fmt.Printf("resumed at 120000, copied %d more, verified: %v, total %d\n", n, err == nil, durable.Len())
	// Output:
	// resumed at 120000, copied 180000 more, verified: true, total 300000
}
