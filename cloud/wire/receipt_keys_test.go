package wire

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

// After a rotation a dock trusts the new key and the previous ones: a
// receipt verifies against the key its id names, or any trusted key; an
// untrusted signer or a receipt for other footage does not.
func TestReceiptKeysRotation(t *testing.T) {
	oldPub, oldKey, _ := ed25519.GenerateKey(nil)
	newPub, newKey, _ := ed25519.GenerateKey(nil)
	_, strangerKey, _ := ed25519.GenerateKey(nil)
	sha := strings.Repeat("ab", 32)
	mk := func(key ed25519.PrivateKey, id string) *Receipt {
		r := &Receipt{ObjectID: sha, Device: "R1", Seq: 4, SHA256: sha, Size: 10, StoredAt: time.Unix(1e9, 0).UTC()}
		r.Sign(id, key)
		return r
	}
	trusted := ReceiptKeys{newPub, oldPub}
	for _, tc := range []struct {
		name string
		r    *Receipt
		keys ReceiptKeys
		ok   bool
	}{
		{"new key", mk(newKey, KeyID(newPub)), trusted, true},
		{"previous key", mk(oldKey, KeyID(oldPub)), trusted, true},
		{"previous key, odd key id", mk(oldKey, "legacy"), trusted, true},
		{"previous key no longer trusted", mk(oldKey, KeyID(oldPub)), ReceiptKeys{newPub}, false},
		{"stranger claiming the new key's id", mk(strangerKey, KeyID(newPub)), trusted, false},
		{"no keys", mk(newKey, KeyID(newPub)), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.keys.Verify(tc.r, "R1", 4, sha, 10)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrReceipt)) {
				t.Fatalf("Verify = %v, want ok %v", err, tc.ok)
			}
		})
	}
	if err := trusted.Verify(mk(newKey, KeyID(newPub)), "R1", 5, sha, 10); !errors.Is(err, ErrReceipt) {
		t.Fatalf("receipt for another seq: %v", err)
	}
}
