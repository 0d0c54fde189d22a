package pki_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"testing"

	"github.com/berthdock/berth/cloud/pki"
	"github.com/berthdock/berth/cloud/pki/pkitest"
)

// A revocation list takes effect when its file changes; one another CA
// signed is refused at load, and one that stops reading refuses every
// certificate (fail closed).
func TestRevocations(t *testing.T) {
	ca, other := pkitest.New(t), pkitest.New(t)
	a, b := ca.Dock("dock-a"), ca.Dock("dock-b")
	rev, err := pki.LoadRevocations(ca.CAFile, ca.CRLFile)
	if err != nil {
		t.Fatal(err)
	}
	cfgA, cfgB := clientLeaf(t, a), clientLeaf(t, b)
	for _, step := range []struct {
		name             string
		change           func()
		revokedA, refusB bool
	}{
		{"empty list", func() {}, false, false},
		{"dock-a revoked", func() { ca.Revoke(a) }, true, false},
		{"list unreadable", func() {
			if err := os.WriteFile(ca.CRLFile, []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true, true},
		{"list restored, empty", func() { ca.Revoke() }, false, false},
	} {
		step.change()
		if err := rev.Check(cfgA); errors.Is(err, pki.ErrRevoked) != step.revokedA {
			t.Errorf("%s: dock-a: %v", step.name, err)
		}
		if err := rev.Check(cfgB); errors.Is(err, pki.ErrRevoked) != step.refusB {
			t.Errorf("%s: dock-b: %v", step.name, err)
		}
	}
	if _, err := pki.LoadRevocations(ca.CAFile, other.CRLFile); err == nil {
		t.Error("a revocation list signed by another CA loaded")
	}
}

func clientLeaf(t *testing.T, p pkitest.Pair) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(p.Cert)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
