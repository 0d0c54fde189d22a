package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/cloud/pki"
)

func TestEnrollCA(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	ca := filepath.Join(dir, "ca")
	certs := filepath.Join(dir, "certs")
	runIt := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"enroll"}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := runIt("ca", "init", "--ca", ca); code != 0 {
		t.Fatalf("ca init: %d %s", code, out)
	}
	if code, out := runIt("ca", "init", "--ca", ca); code != 2 || !strings.Contains(out, "not overwritten") {
		t.Errorf("second ca init: %d %s", code, out)
	}
	if st, err := os.Stat(filepath.Join(ca, "ca.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode %v %v", st, err)
	}
	if code, out := runIt("unit", "--db", db, "--id", "u-a", "--by", "admin"); code != 0 {
		t.Fatal(out)
	}
	code, out := runIt("dock", "--db", db, "--id", "dock-a", "--unit", "u-a", "--token-file", filepath.Join(dir, "a.token"),
		"--ca", ca, "--out-dir", certs, "--by", "admin")
	if code != 0 || !strings.Contains(out, "cert_file: "+filepath.Join(certs, "dock-dock-a.crt")) ||
		!strings.Contains(out, "key_file: "+filepath.Join(certs, "dock-dock-a.key")) {
		t.Fatalf("enroll dock with --ca: %d %s", code, out)
	}
	// The fragment is dockd configuration, and dockd's TLS settings load.
	var dc dock.Config
	dec := yaml.NewDecoder(strings.NewReader(out[strings.Index(out, "\n")+1:]))
	dec.KnownFields(true)
	if err := dec.Decode(&dc); err != nil {
		t.Fatalf("fragment is not dockd configuration: %v\n%s", err, out)
	}
	if _, err := pki.ClientTLS(dc.TLS.CAFile, dc.TLS.CertFile, dc.TLS.KeyFile); err != nil || dc.TLS.CAFile != filepath.Join(ca, "ca.crt") {
		t.Errorf("fragment's tls %+v: %v", dc.TLS, err)
	}
	// A dock may not be named for the collectors' certificates.
	if code, out := runIt("dock", "--db", db, "--id", "collector", "--unit", "u-a", "--token-file", filepath.Join(dir, "c.token"),
		"--ca", ca, "--out-dir", certs, "--by", "admin"); code != 2 || !strings.Contains(out, "collectors' name space") {
		t.Errorf("enroll dock collector: %d %s", code, out)
	}
	b, err := os.ReadFile(filepath.Join(certs, "dock-dock-a.crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := pki.IdentityOf(cert); err != nil || id != (pki.Identity{Kind: pki.KindDock, ID: "dock-a"}) || cert.Subject.CommonName != "dock-a" {
		t.Errorf("dock certificate identity %v %v CN %q", id, err, cert.Subject.CommonName)
	}
	if st, err := os.Stat(filepath.Join(certs, "dock-dock-a.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("dock key mode %v %v", st, err)
	}
	if code, out := runIt("server", "--ca", ca, "--host", "127.0.0.1,collector.example", "--out-dir", certs); code != 0 || !strings.Contains(out, "tls_cert:") {
		t.Errorf("enroll server: %d %s", code, out)
	}
	if code, out := runIt("collector", "--ca", ca, "--name", "collector-c1", "--out-dir", certs); code != 0 ||
		!strings.Contains(out, "cert_file: "+filepath.Join(certs, "collector-c1.crt")) {
		t.Errorf("enroll collector: %d %s", code, out)
	}
	// A collector's name is in the collectors' name space.
	if code, out := runIt("collector", "--ca", ca, "--name", "c1", "--out-dir", certs); code == 0 {
		t.Errorf("enroll collector c1: %d %s", code, out)
	}
	// Revocation: every certificate issued to dock-a goes on ca.crl, which
	// the collector's checker then refuses; the collector's stays valid.
	rev, err := pki.LoadRevocations(filepath.Join(ca, "ca.crt"), filepath.Join(ca, "ca.crl"))
	if err != nil {
		t.Fatalf("ca init's empty revocation list: %v", err)
	}
	collCert := func(name string) *x509.Certificate {
		b, err := os.ReadFile(filepath.Join(certs, name))
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
	if err := rev.Check(cert); err != nil {
		t.Fatalf("dock-a refused before revocation: %v", err)
	}
	for _, args := range [][]string{
		{"revoke", "dock", "dock-unknown", "--ca", ca},
		{"revoke", "recorder", "REC-1", "--ca", ca},
		{"revoke", "dock", "dock-a"},
	} {
		if code, out := runIt(args...); code != 2 {
			t.Errorf("%v: %d %s", args, code, out)
		}
	}
	if code, out := runIt("revoke", "dock", "dock-a", "--ca", ca); code != 0 || !strings.Contains(out, cert.SerialNumber.Text(16)) {
		t.Fatalf("revoke dock dock-a: %d %s", code, out)
	}
	if err := rev.Check(cert); !errors.Is(err, pki.ErrRevoked) {
		t.Errorf("dock-a after revocation: %v", err)
	}
	if code, out := runIt("revoke", "--ca", ca, "collector", "collector-c1"); code != 0 {
		t.Fatalf("revoke collector: %d %s", code, out)
	}
	for name, revoked := range map[string]bool{"dock-dock-a.crt": true, "collector-c1.crt": true} {
		if err := rev.Check(collCert(name)); errors.Is(err, pki.ErrRevoked) != revoked {
			t.Errorf("%s: %v, want revoked %v (the list keeps earlier revocations)", name, err, revoked)
		}
	}

	// A CA key readable by others is refused, as every secret file is.
	if err := os.Chmod(filepath.Join(ca, "ca.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runIt("server", "--ca", ca, "--host", "h2", "--out-dir", t.TempDir()); code != 2 || !strings.Contains(out, "chmod 600") {
		t.Errorf("server with a 0644 CA key: %d %s", code, out)
	}
}
