package docklink

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestAuthExample checks the §6.4 example: the exact signed bytes and the
// deterministic Ed25519 signature, from testdata/golden/auth_example.txt.
func TestAuthExample(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden/auth_example.txt")
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, val, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			v[k] = val
		}
	}
	unhex := func(k string) []byte {
		b, err := hex.DecodeString(v[k])
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return b
	}
	priv := ed25519.NewKeyFromSeed(unhex("seed"))
	pub := priv.Public().(ed25519.PublicKey)
	if !bytes.Equal(pub, unhex("public_key")) {
		t.Fatalf("public key %x", pub)
	}
	nonce := [NonceSize]byte(unhex("nonce"))
	msg := AuthMessage(nonce, v["serial"])
	if !bytes.Equal(msg, unhex("message")) {
		t.Fatalf("message\n got %x\nwant %x", msg, unhex("message"))
	}
	sig := [64]byte(unhex("signature"))
	if !bytes.Equal(ed25519.Sign(priv, msg), sig[:]) {
		t.Fatal("signature differs")
	}
	if !VerifyAuth(pub, nonce, v["serial"], sig) {
		t.Fatal("VerifyAuth rejects the example")
	}
	if VerifyAuth(pub, nonce, "BWC-0002", sig) {
		t.Fatal("VerifyAuth accepts another serial")
	}
	if VerifyAuth(pub[:31], nonce, v["serial"], sig) {
		t.Fatal("VerifyAuth accepts a short key")
	}
}
