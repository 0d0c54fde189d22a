package docklink

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// golden reads a "key value" vector file of testdata/golden.
func golden(t *testing.T, name string) (map[string]string, func(string) []byte) {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden/" + name)
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, val, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			v[k] = val
		}
	}
	return v, func(k string) []byte {
		b, err := hex.DecodeString(v[k])
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %q %v", k, v[k], err)
		}
		return b
	}
}

// TestDockNonce checks the §6.5 example (testdata/golden/dock_nonce.txt):
// the hashed bytes, the nonce, and a proof over it that verifies only for
// the same dock, time, salt and serial.
func TestDockNonce(t *testing.T) {
	v, unhex := golden(t, "dock_nonce.txt")
	at, err := time.Parse(time.RFC3339Nano, v["at"])
	if err != nil {
		t.Fatal(err)
	}
	if got := at.UnixNano(); v["at_unix_ns"] != strconv.FormatInt(got, 10) {
		t.Fatalf("at %d, want %s", got, v["at_unix_ns"])
	}
	salt := [SaltSize]byte(unhex("salt"))
	if sum := sha256.Sum256(unhex("hashed")); !bytes.Equal(sum[:], unhex("nonce")) {
		t.Fatal("the vector's hashed bytes do not hash to its nonce")
	}
	n := DockNonce(v["dock"], at, salt)
	if !bytes.Equal(n[:], unhex("nonce")) {
		t.Fatalf("nonce\n got %x\nwant %s", n, v["nonce"])
	}
	// The zone does not matter, only the instant.
	if DockNonce(v["dock"], at.In(time.FixedZone("x", 3600)), salt) != n {
		t.Fatal("the nonce depends on the time's zone")
	}
	priv := ed25519.NewKeyFromSeed(unhex("seed"))
	if sig := ed25519.Sign(priv, AuthMessage(n, v["serial"])); !bytes.Equal(sig, unhex("signature")) {
		t.Fatalf("signature %x", sig)
	}
	pub := priv.Public().(ed25519.PublicKey)
	good := AuthProof{Dock: v["dock"], At: at, Salt: salt, Serial: v["serial"], Signature: [64]byte(unhex("signature"))}
	if !good.Verify(pub) {
		t.Fatal("the example proof does not verify")
	}
	other := salt
	other[15] ^= 1
	for name, p := range map[string]AuthProof{
		"another dock":   {Dock: "dock-8", At: at, Salt: salt, Serial: good.Serial, Signature: good.Signature},
		"a longer dock":  {Dock: v["dock"] + "x", At: at, Salt: salt, Serial: good.Serial, Signature: good.Signature},
		"another time":   {Dock: good.Dock, At: at.Add(time.Nanosecond), Salt: salt, Serial: good.Serial, Signature: good.Signature},
		"another salt":   {Dock: good.Dock, At: at, Salt: other, Serial: good.Serial, Signature: good.Signature},
		"another serial": {Dock: good.Dock, At: at, Salt: salt, Serial: "BWC-0002", Signature: good.Signature},
	} {
		if p.Verify(pub) {
			t.Errorf("%s: the proof verifies", name)
		}
	}
	if good.Verify(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)) {
		t.Error("the proof verifies with another key")
	}
}

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
