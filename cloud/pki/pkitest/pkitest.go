// Package pkitest writes a throw-away machine CA and certificates to a
// test's temporary directory, for the mutual-TLS tests of the broker, the
// collector and the docks.
package pkitest

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
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
	mu      sync.Mutex
	issued  map[string]int // how many pairs of each name were written
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
	out := &CA{CA: ca, Dir: dir, CAFile: filepath.Join(dir, "ca.crt"), CRLFile: filepath.Join(dir, "ca.crl"), issued: map[string]int{}, t: t}
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

// write stores a certificate and key. A name issued before gets a new
// file (name-2, name-3, ...) rather than replacing the old one, which a
// running server may still be about to read: replacing it let Mosquitto
// load one certificate with the next one's key.
func (ca *CA) write(name string, c, k []byte) Pair {
	ca.t.Helper()
	ca.mu.Lock()
	ca.issued[name]++
	n := ca.issued[name]
	ca.mu.Unlock()
	if n > 1 {
		name = fmt.Sprintf("%s-%d", name, n)
	}
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
