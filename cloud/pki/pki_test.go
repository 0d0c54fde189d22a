package pki_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/pki"
)

func parse(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIdentity(t *testing.T) {
	now := time.Now()
	c, k, err := pki.NewCA("t", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ParseCA(c, k)
	if err != nil {
		t.Fatal(err)
	}
	_, k2, _ := pki.NewCA("other", time.Hour, now)
	if _, err := pki.ParseCA(c, k2); !errors.Is(err, pki.ErrArgument) {
		t.Errorf("CA with another CA's key: %v", err)
	}
	cert, _, err := ca.IssueClient(pki.Identity{Kind: pki.KindDock, ID: "dock-a"}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	dc := parse(t, cert)
	if id, err := pki.IdentityOf(dc); err != nil || id.Kind != pki.KindDock || id.ID != "dock-a" || dc.Subject.CommonName != "dock-a" {
		t.Errorf("dock certificate: %v %v CN %s", id, err, dc.Subject.CommonName)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := dc.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("dock certificate does not verify as a client: %v", err)
	}
	cert, _, err = ca.IssueClient(pki.Identity{Kind: pki.KindCollector, ID: "collector-c1"}, time.Hour, now)
	if err != nil || parse(t, cert).Subject.CommonName != "collector-c1" {
		t.Errorf("collector certificate: %v", err)
	}
	for _, id := range []pki.Identity{{Kind: pki.KindDock, ID: "collector"}, {Kind: pki.KindDock, ID: "collector-c1"},
		{Kind: pki.KindCollector, ID: "c1"}, {Kind: pki.KindCollector, ID: "dock-a"},
		{Kind: pki.KindDock, ID: "a/b"}, {Kind: "person", ID: "x"}} {
		if _, _, err := ca.IssueClient(id, time.Hour, now); !errors.Is(err, pki.ErrArgument) {
			t.Errorf("IssueClient(%v): %v", id, err)
		}
	}
	for name, uris := range map[string][]string{
		"none":     nil,
		"two":      {"berth:dock:a", "berth:dock:b"},
		"bad kind": {"berth:person:a"},
		"bad id":   {"berth:dock:a+b"},
		"no kind":  {"berth:a"},
	} {
		c := &x509.Certificate{}
		for _, u := range uris {
			p, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			c.URIs = append(c.URIs, p)
		}
		if _, err := pki.IdentityOf(c); !errors.Is(err, pki.ErrIdentity) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
