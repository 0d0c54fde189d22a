package evidence_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/berthdock/berth/cloud/evidence"
)

// An upload staged in two chunks, verified and committed as the object named
// by its SHA-256.
func Example() {
	dir, _ := os.MkdirTemp("", "evidence")
	defer os.RemoveAll(dir)
	store, err := evidence.OpenFS(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	footage := []byte("an H.264 segment, in reality some hundreds of MB")
	sum := sha256.Sum256(footage)
	hexsum := hex.EncodeToString(sum[:])

	const upload = "0123456789abcdef0123456789abcdef"
	st, _ := store.Begin(ctx, upload, int64(len(footage)), hexsum, []byte(`{"device":"R1","seq":7}`))
	off := st.Offset
	for _, chunk := range [][]byte{footage[:20], footage[20:]} {
		s := sha256.Sum256(chunk)
		off, err = store.Append(ctx, upload, off, bytes.NewReader(chunk), int64(len(chunk)), hex.EncodeToString(s[:]))
		if err != nil {
			panic(err)
		}
	}
	obj, err := store.Commit(ctx, upload, hexsum, off)
	if err != nil {
		panic(err)
	}
	fmt.Println(obj.ID == hexsum, obj.Size)
	// Output: true 48
}
