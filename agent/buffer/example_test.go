package buffer_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/outbox"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// A dock opens one buffer, shares its database with the outbox, runs the
// reclamation loop beside everything else and closes the buffer last.
func Example() {
	dir, _ := os.MkdirTemp("", "buffer-example-")
	defer os.RemoveAll(dir)
	key := filepath.Join(dir, "buffer.key")
	if err := buffer.WriteKeyFile(key); err != nil { // once, at provisioning
		log.Fatal(err)
	}
	b, err := buffer.Open(filepath.Join(dir, "db"), &buffer.Opts{KeyFile: key, Capacity: 64 << 20, Reserve: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	box, err := outbox.New(b.DB(), outbox.DefaultPrefix)
	if err != nil {
		log.Fatal(err)
	}
	_ = box

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := b.Run(ctx); err != nil {
			log.Print(err)
		}
	}()

	// A slot copies a segment (resuming at Offset after a disconnect).
	footage := []byte("h264 and aac, as the recorder holds them")
	seg := docklink.Segment{Seq: 1, Size: uint64(len(footage)), SHA256: sha256.Sum256(footage)}
	w, err := b.Begin(buffer.Meta{Serial: "BWC-0001", Seg: seg})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := w.Write(footage[w.Offset():]); err != nil {
		log.Fatal(err)
	}
	if err := w.Commit(); err != nil { // synced and hash-verified
		log.Fatal(err)
	}
	k, _ := b.Lookup("BWC-0001", 1)
	p, _ := b.PendingUpload(10)
	fmt.Println(k.Phase == buffer.PhaseBuffered, len(p), p[0].Serial, p[0].Seq)

	cancel()
	wg.Wait() // Run has returned: now the database may close
	if err := b.Close(); err != nil {
		log.Fatal(err)
	}
	// Output: true 1 BWC-0001 1
}
