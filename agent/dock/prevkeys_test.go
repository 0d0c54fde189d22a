package dock

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
)

// collector.previous_public_keys are parsed as Ed25519 keys; a bad one is
// a configuration error naming it.
func TestPreviousKeys(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	var c Config
	c.Collector.PreviousKeys = []string{base64.StdEncoding.EncodeToString(pub)}
	ks, err := c.previousKeys()
	if err != nil || len(ks) != 1 || !ks[0].Equal(pub) {
		t.Fatalf("previousKeys = %v, %v", ks, err)
	}
	c.Collector.PreviousKeys = append(c.Collector.PreviousKeys, "bm90IGEga2V5")
	if _, err := c.previousKeys(); err == nil || !strings.Contains(err.Error(), "previous_public_keys[1]") {
		t.Fatalf("bad key: %v", err)
	}
}
