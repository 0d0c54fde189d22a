package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/pki"
	"github.com/berthdock/berth/cloud/store"
)

// File names in a CA directory (collector enroll ca init --ca DIR).
const (
	caCertName = "ca.crt"
	caKeyName  = "ca.key"
	caCRLName  = "ca.crl"     // the revocation list (collector.yaml crl_file, mosquitto.conf crlfile)
	issuedName = "issued.log" // "serial identity not-after" of every client certificate issued
	caTTL      = 10 * 365 * 24 * time.Hour
	leafTTL    = 2 * 365 * 24 * time.Hour
)

// initCA creates the CA's certificate (0644) and key (0600) in dir;
// existing files are never overwritten.
func initCA(dir string, now time.Time) error {
	if dir == "" {
		return fmt.Errorf("%w: --ca DIR is required", store.ErrArgument)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	certPEM, keyPEM, err := pki.NewCA("berth machine CA", caTTL, now)
	if err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, caKeyName), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, caCertName), certPEM, 0o644); err != nil {
		return err
	}
	ca, err := pki.ParseCA(certPEM, keyPEM)
	if err != nil {
		return err
	}
	crl, err := ca.RevocationList(nil, 1, now) // empty: brokers and the collector can name it from the start
	if err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, caCRLName), crl, 0o644)
}

// recordIssued appends a client certificate to the CA directory's issued
// log, so that it can be revoked by identity.
func recordIssued(caDir string, certPEM []byte) error {
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		return fmt.Errorf("%w: issued certificate is not PEM", store.ErrArgument)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return err
	}
	id, err := pki.IdentityOf(c)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(caDir, issuedName), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %s %s\n", c.SerialNumber.Text(16), id, c.NotAfter.UTC().Format(time.RFC3339))
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// revoke adds every client certificate issued to id to the CA's
// revocation list (ca.crl, replaced atomically) and returns their serials.
func revoke(caDir string, id pki.Identity, now time.Time) ([]string, error) {
	ca, err := loadCA(caDir)
	if err != nil {
		return nil, err
	}
	log, err := os.ReadFile(filepath.Join(caDir, issuedName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var serials []*big.Int
	var names []string
	for _, line := range strings.Split(string(log), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[1] != id.String() {
			continue
		}
		n, ok := new(big.Int).SetString(f[0], 16)
		if !ok {
			return nil, fmt.Errorf("%w: %s: bad serial %q", store.ErrArgument, issuedName, f[0])
		}
		serials, names = append(serials, n), append(names, f[0])
	}
	if len(serials) == 0 {
		return nil, fmt.Errorf("%w: no certificate issued to %s in %s", store.ErrArgument, id, filepath.Join(caDir, issuedName))
	}
	number := int64(1)
	crlPath := filepath.Join(caDir, caCRLName)
	if b, err := os.ReadFile(crlPath); err == nil {
		rl, err := pki.ParseRevocationList(b, ca.Cert)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, s := range serials {
			seen[s.String()] = true
		}
		for _, e := range rl.RevokedCertificateEntries {
			if !seen[e.SerialNumber.String()] {
				serials = append(serials, e.SerialNumber)
			}
		}
		if rl.Number != nil {
			number = rl.Number.Int64() + 1
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	crl, err := ca.RevocationList(serials, number, now)
	if err != nil {
		return nil, err
	}
	tmp := crlPath + ".new"
	if err := os.WriteFile(tmp, crl, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, crlPath); err != nil {
		return nil, err
	}
	return names, nil
}

// loadCA loads the CA from dir; its key must not be readable by group or
// others (the collector's secret-file check).
func loadCA(dir string) (*pki.CA, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: --ca DIR is required", store.ErrArgument)
	}
	key, err := collector.ReadSecretFile(filepath.Join(dir, caKeyName))
	if err != nil {
		return nil, err
	}
	cert, err := os.ReadFile(filepath.Join(dir, caCertName))
	if err != nil {
		return nil, err
	}
	return pki.ParseCA(cert, []byte(key))
}

// issueFiles writes a certificate (0644) and key (0600) as
// dir/name.crt and dir/name.key, and returns their absolute paths.
func issueFiles(dir, name string, certPEM, keyPEM []byte) (certPath, keyPath string, err error) {
	if dir, err = filepath.Abs(dir); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	return certPath, keyPath, writeNew(certPath, certPEM, 0o644)
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s exists; not overwritten", store.ErrArgument, path)
		}
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// runCertCommand runs enroll ca init, enroll server and enroll collector:
// the parts of enrolment that need no store.
func runCertCommand(sub string, args []string, caDir, outDir, hosts, name string, stdout io.Writer) error {
	now := time.Now()
	switch sub {
	case "ca":
		if len(args) != 1 || args[0] != "init" {
			return fmt.Errorf("%w: want: collector enroll ca init --ca DIR", store.ErrArgument)
		}
		if err := initCA(caDir, now); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "CA created: %s (give to brokers, collectors and docks), %s (keep 0600, offline if you can)\n",
			filepath.Join(caDir, caCertName), filepath.Join(caDir, caKeyName))
		return nil
	case "server":
		if hosts == "" {
			return fmt.Errorf("%w: --host is required (comma-separated DNS names or IPs)", store.ErrArgument)
		}
		ca, err := loadCA(caDir)
		if err != nil {
			return err
		}
		hs := strings.Split(hosts, ",")
		c, k, err := ca.IssueServer(hs, leafTTL, now)
		if err != nil {
			return err
		}
		cp, kp, err := issueFiles(outDir, "server", c, k)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# server certificate for %s; collector.yaml (and mosquitto.conf certfile/keyfile):\ntls_cert: %s\ntls_key: %s\nclient_ca: %s\n",
			hosts, cp, kp, filepath.Join(mustAbs(caDir), caCertName))
		return nil
	case "collector":
		if name == "" {
			return fmt.Errorf("%w: --name is required", store.ErrArgument)
		}
		ca, err := loadCA(caDir)
		if err != nil {
			return err
		}
		c, k, err := ca.IssueClient(pki.Identity{Kind: pki.KindCollector, ID: name}, leafTTL, now)
		if err != nil {
			return err
		}
		if err := recordIssued(caDir, c); err != nil {
			return err
		}
		cp, kp, err := issueFiles(outDir, name, c, k)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# collector %s's client certificate (CN %s); collector.yaml:\nmqtt:\n  ca_file: %s\n  cert_file: %s\n  key_file: %s\n",
			name, name, filepath.Join(mustAbs(caDir), caCertName), cp, kp)
		return nil
	case "revoke":
		if len(args) != 2 || (args[0] != pki.KindDock && args[0] != pki.KindCollector) {
			return fmt.Errorf("%w: want: collector enroll revoke dock|collector ID --ca DIR", store.ErrArgument)
		}
		id := pki.Identity{Kind: args[0], ID: args[1]}
		serials, err := revoke(caDir, id, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s: certificate serials %s; %s updated.\n"+
			"The collector (crl_file) refuses them from the next handshake; Mosquitto (crlfile) after SIGHUP (reload).\n"+
			"Connections already open stay open until they reconnect: restart the broker to cut them.\n",
			id, strings.Join(serials, ", "), filepath.Join(mustAbs(caDir), caCRLName))
		return nil
	}
	return fmt.Errorf("%w: unknown certificate command %q", store.ErrArgument, sub)
}

// issueDock issues dock's client certificate into outDir and returns the
// dockd.yaml lines that use it.
func issueDock(caDir, outDir, dock string) (string, error) {
	ca, err := loadCA(caDir)
	if err != nil {
		return "", err
	}
	c, k, err := ca.IssueClient(pki.Identity{Kind: pki.KindDock, ID: dock}, leafTTL, time.Now())
	if err != nil {
		return "", fmt.Errorf("%w: %v", store.ErrArgument, err)
	}
	if err := recordIssued(caDir, c); err != nil {
		return "", err
	}
	cp, kp, err := issueFiles(outDir, "dock-"+dock, c, k)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("tls:  # mutual TLS to the broker (ssl://) and the upload endpoint (https://)\n  ca_file: %s\n  cert_file: %s\n  key_file: %s\n",
		filepath.Join(mustAbs(caDir), caCertName), cp, kp), nil
}

func mustAbs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
