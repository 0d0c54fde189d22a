package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// recsim prints its recorders; a dock enrols the printed keys and talks
// to the printed addresses; the wrong-hash fault reaches recorder 2 only.
func TestRunServesPrintedRecorders(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr strings.Builder
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--seed", "9", "--count", "2", "--segments", "3", "--min-size", "64k", "--fault", "2:wrong-hash=1", "--drift-ppm", "50", "--log", "error"}, pw, &stderr)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var rows [][]string
	for len(rows) < 3 && sc.Scan() {
		rows = append(rows, strings.Fields(sc.Text()))
	}
	go io.Copy(io.Discard, pr)
	if len(rows) != 3 || rows[0][0] != "SERIAL" {
		t.Fatalf("printed %q", rows)
	}
	for i, row := range rows[1:] {
		serial, key, addr := row[0], row[1], row[2]
		pub, err := base64.StdEncoding.DecodeString(key)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			t.Fatalf("key %q: %v", key, err)
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		cl := docklink.NewClient(c, nil)
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		if _, err := cl.Hello(cctx); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Authenticate(cctx, docklink.Keys{serial: pub}); err != nil {
			t.Fatalf("%s: %v", serial, err)
		}
		segs, err := cl.Inventory(cctx)
		if err != nil || len(segs) != 3 {
			t.Fatalf("%s: inventory %v %v", serial, segs, err)
		}
		_, err = cl.CopySegment(cctx, segs[0], 0, nil, io.Discard)
		if wantBad := i == 1; wantBad != (err != nil) {
			t.Fatalf("%s: copy of seq 1: %v (fault expected: %v)", serial, err, wantBad)
		}
		ccancel()
		cl.Close()
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d: %s", c, stderr.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--seed", "1", "--dir", "x"},
		{"--seed", "1", "--fault", "nope"},
		{"--seed", "1", "--fault", "0:auth"},
		{"--seed", "1", "--charge", "sideways"},
		{"--seed", "1", "--count", "2", "--key", "k"},
	} {
		var out, errb strings.Builder
		if c := run(context.Background(), args, &out, &errb); c == 0 {
			t.Errorf("%q: exit 0", args)
		}
	}
}
