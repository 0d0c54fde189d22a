// Package pkitest writes a throw-away machine CA and certificates to a
// test's temporary directory, for the mutual-TLS tests of the broker, the
// collector and the docks.
package pkitest

import (
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/pki"
)

// CA is a test CA whose files live in Dir.
type CA struct {
	*pki.CA
	Dir     string
	CAFile  string // ca.crt
	CRLFile string // ca.crl, the revocation list (Revoke)
	crls    int64
	t       testing.TB
}

// Pair is a certificate and key file.
type Pair struct{ Cert, Key string }

// New makes a CA in a new temporary directory.
func New(t testing.TB) *CA {
	t.Helper()
	dir := t.TempDir()
	c, k, err := pki.NewCA("test CA", 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ParseCA(c, k)
	if err != nil {
		t.Fatal(err)
	}
	out := &CA{CA: ca, Dir: dir, CAFile: filepath.Join(dir, "ca.crt"), CRLFile: filepath.Join(dir, "ca.crl"), t: t}
	out.write("ca", c, k)
	out.Revoke()
	return out
}

// Revoke writes CRLFile naming the certificates of pairs (none: an empty
// list), replacing it atomically.
func (ca *CA) Revoke(pairs ...Pair) {
	ca.t.Helper()
	var serials []*big.Int
	for _, p := range pairs {
		b, err := os.ReadFile(p.Cert)
		if err != nil {
			ca.t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			ca.t.Fatal(err)
		}
		serials = append(serials, c.SerialNumber)
	}
	ca.crls++
	crl, err := ca.RevocationList(serials, ca.crls, time.Now())
	if err != nil {
		ca.t.Fatal(err)
	}
	if err := os.WriteFile(ca.CRLFile+".new", crl, 0o644); err != nil {
		ca.t.Fatal(err)
	}
	if err := os.Rename(ca.CRLFile+".new", ca.CRLFile); err != nil {
		ca.t.Fatal(err)
	}
}

func (ca *CA) write(name string, c, k []byte) Pair {
	ca.t.Helper()
	p := Pair{Cert: filepath.Join(ca.Dir, name+".crt"), Key: filepath.Join(ca.Dir, name+".key")}
	if err := os.WriteFile(p.Cert, c, 0o644); err != nil {
		ca.t.Fatal(err)
	}
	if err := os.WriteFile(p.Key, k, 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return p
}

// Server issues a server certificate for 127.0.0.1 and localhost.
func (ca *CA) Server() Pair {
	ca.t.Helper()
	c, k, err := ca.IssueServer([]string{"127.0.0.1", "localhost"}, time.Hour, time.Now())
	if err != nil {
		ca.t.Fatal(err)
	}
	return ca.write("server", c, k)
}

// Dock issues dock's client certificate.
func (ca *CA) Dock(dock string) Pair {
	ca.t.Helper()
	c, k, err := ca.IssueClient(pki.Identity{Kind: pki.KindDock, ID: dock}, time.Hour, time.Now())
	if err != nil {
		ca.t.Fatal(err)
	}
	return ca.write("dock-"+dock, c, k)
}

// Collector issues a collector's client certificate; name is in the
// collectors' name space (collector-...).
func (ca *CA) Collector(name string) Pair {
	ca.t.Helper()
	c, k, err := ca.IssueClient(pki.Identity{Kind: pki.KindCollector, ID: name}, time.Hour, time.Now())
	if err != nil {
		ca.t.Fatal(err)
	}
	return ca.write(name, c, k)
}
