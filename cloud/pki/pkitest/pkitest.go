// Package pkitest writes a throw-away machine CA and certificates to a
// test's temporary directory, for the mutual-TLS tests of the broker, the
// collector and the docks.
package pkitest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/pki"
)

// CA is a test CA whose files live in Dir.
type CA struct {
	*pki.CA
	Dir    string
	CAFile string // ca.crt
	t      testing.TB
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
	out := &CA{CA: ca, Dir: dir, CAFile: filepath.Join(dir, "ca.crt"), t: t}
	out.write("ca", c, k)
	return out
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
