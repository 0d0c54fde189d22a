package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/berthdock/berth/agent/uploader"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// After the collector's receipt key is rotated, a receipt issued before
// (answered again from the receipts table, still signed by the old key)
// is accepted by a dock that trusts the previous key, and only by it.
func TestReceiptKeyRotation(t *testing.T) {
	e := newEnv(t, sqliteBackend(t), 0)
	data, sum := payload(20_000, 71)
	ctx := context.Background()
	old, err := e.client(t, uploader.ClientOpts{}).Upload(ctx, "R1", 1, 20_000, sum, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	newPub, newKey, _ := ed25519.GenerateKey(nil)
	rotated, err := New(Opts{Store: e.st, Evidence: e.ev, Key: newKey, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(rotated)
	defer hs.Close()

	trusting := e.client(t, uploader.ClientOpts{BaseURL: hs.URL, CollectorKey: newPub, PreviousKeys: []ed25519.PublicKey{e.pub}})
	got, err := trusting.Upload(ctx, "R1", 1, 20_000, sum, bytes.NewReader(data), nil)
	if err != nil || got != old || got.KeyID != KeyID(e.pub) {
		t.Fatalf("receipt from before the rotation: %+v %v", got, err)
	}
	forgetful := e.client(t, uploader.ClientOpts{BaseURL: hs.URL, CollectorKey: newPub})
	if _, err := forgetful.Upload(ctx, "R1", 1, 20_000, sum, bytes.NewReader(data), nil); !errors.Is(err, upload.ErrBadReceipt) {
		t.Fatalf("without the previous key: %v, want ErrBadReceipt", err)
	}
	// New receipts carry the new key's id.
	d2, s2 := payload(20_000, 72)
	r2, err := trusting.Upload(ctx, "R1", 2, 20_000, s2, bytes.NewReader(d2), nil)
	if err != nil || r2.KeyID != KeyID(newPub) {
		t.Fatalf("new receipt %+v %v", r2, err)
	}
}
