// Package pki is the small certificate authority `collector enroll` runs
// for machine identity (issue 10, item 3; DESIGN.md "Trust and
// judgement"): it issues each dock a client certificate bound to its dock
// id, the collector a client certificate for brokers that require one, and
// the collector's servers (upload endpoint, MQTT) their server
// certificates. Everything is the standard library's crypto/x509 with
// ECDSA P-256 keys; nothing here is home-made cryptography.
//
// A machine's identity is a URI SAN, berth:dock:{id} or
// berth:collector:{name}; the subject CN carries the bare id or name, so
// that Mosquitto's use_identity_as_username makes it the user name its ACL
// names (%u for a dock, one user line per collector) and
// use_username_as_clientid the one client id that identity may hold.
// Collectors' names are "collector" or "collector-..." (wire.IsCollectorName),
// a name space no dock id may enter.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// Kinds of machine identity.
const (
	KindDock      = "dock"
	KindCollector = "collector"
	uriScheme     = "berth"
)

// Errors of the package.
var (
	ErrIdentity = errors.New("pki: certificate carries no berth identity")
	ErrArgument = errors.New("pki: bad argument")
)

// Identity is who a certificate says a machine is.
type Identity struct {
	Kind string // KindDock or KindCollector
	ID   string // dock id, or the collector's name
}

// URI is the identity as a URI SAN (berth:dock:{id}).
func (id Identity) URI() *url.URL { return &url.URL{Scheme: uriScheme, Opaque: id.Kind + ":" + id.ID} }

func (id Identity) String() string { return id.URI().String() }

// IdentityOf reads the berth identity of a (verified) certificate from its
// URI SANs; exactly one berth URI must be present.
func IdentityOf(c *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range c.URIs {
		if u.Scheme != uriScheme {
			continue
		}
		kind, id, ok := strings.Cut(u.Opaque, ":")
		if !ok || (kind != KindDock && kind != KindCollector) || wire.ValidID(id) != nil {
			return Identity{}, fmt.Errorf("%w: malformed %s", ErrIdentity, u)
		}
		found = append(found, Identity{Kind: kind, ID: id})
	}
	if len(found) != 1 {
		return Identity{}, fmt.Errorf("%w (%d berth URIs)", ErrIdentity, len(found))
	}
	return found[0], nil
}

// CA is a loaded certificate authority.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// NewCA makes a self-signed CA certificate and key (PEM) valid for ttl.
func NewCA(name string, ttl time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"berth"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

// ParseCA loads a CA from its PEM certificate and key.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%w: %s is not a CA certificate", ErrArgument, cert.Subject)
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, fmt.Errorf("%w: CA key is not PEM", ErrArgument)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: CA key does not match its certificate", ErrArgument)
	}
	return &CA{Cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}, nil
}

// PEM is the CA certificate, PEM encoded.
func (ca *CA) PEM() []byte { return ca.pem }

// IssueClient issues a client certificate for id (CN id.ID), valid for
// ttl. A collector's name must be in the collectors' name space and a
// dock's id outside it (wire.IsCollectorName): the CN is the user name and
// client id a broker such as Mosquitto gives the connection.
func (ca *CA) IssueClient(id Identity, ttl time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	if (id.Kind != KindDock && id.Kind != KindCollector) || wire.ValidID(id.ID) != nil {
		return nil, nil, fmt.Errorf("%w: identity %q/%q", ErrArgument, id.Kind, id.ID)
	}
	if coll := wire.IsCollectorName(id.ID); coll != (id.Kind == KindCollector) {
		if coll {
			return nil, nil, fmt.Errorf("%w: dock id %q is in the collectors' name space (collector, collector-...)", ErrArgument, id.ID)
		}
		return nil, nil, fmt.Errorf("%w: a collector's name must be %q or start with %q, not %q", ErrArgument,
			wire.CollectorName, wire.CollectorName+"-", id.ID)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: id.ID, Organization: []string{"berth"}, OrganizationalUnit: []string{id.Kind}},
		URIs:        []*url.URL{id.URI()},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return ca.issue(tmpl, ttl, now)
}

// IssueServer issues a server certificate for hosts (DNS names or IP
// addresses), valid for ttl.
func (ca *CA) IssueServer(hosts []string, ttl time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, fmt.Errorf("%w: a server certificate needs at least one host", ErrArgument)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{"berth"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(tmpl, ttl, now)
}

func (ca *CA) issue(tmpl *x509.Certificate, ttl time.Duration, now time.Time) ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return nil, nil, err
	}
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(ttl)
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func encode(der []byte, key *ecdsa.PrivateKey) ([]byte, []byte, error) {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), nil
}

func parseCert(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: not a PEM certificate", ErrArgument)
	}
	return x509.ParseCertificate(blk.Bytes)
}

// Pool reads a PEM CA file into a certificate pool.
func Pool(caFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("pki: CA file: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrArgument, caFile)
	}
	return p, nil
}

// checkKeyMode refuses a private key file readable by group or others.
func checkKeyMode(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("pki: key: %w", err)
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %o: chmod 600 it", ErrKeyMode, path, m)
	}
	return nil
}

// ErrKeyMode: a private key file is readable by group or others.
var ErrKeyMode = errors.New("pki: key file readable by group or others")

// ClientTLS is the TLS configuration of a machine that presents its
// certificate (certFile, keyFile; the key file must be 0600) and trusts
// servers signed by caFile. Empty caFile trusts the system roots.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		p, err := Pool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = p
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("%w: a client certificate and its key go together", ErrArgument)
	}
	if certFile != "" {
		if err := checkKeyMode(keyFile); err != nil {
			return nil, err
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("pki: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// ServerTLS is the TLS configuration of a server (certFile, keyFile; the
// key 0600) that requires a client certificate signed by clientCAFile.
func ServerTLS(clientCAFile, certFile, keyFile string) (*tls.Config, error) {
	if err := checkKeyMode(keyFile); err != nil {
		return nil, err
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: server certificate: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{c}}
	if clientCAFile != "" {
		p, err := Pool(clientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = p
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// PeerIdentity is the berth identity of a TLS connection's verified client
// certificate; ok is false when the peer presented none that verified.
func PeerIdentity(cs tls.ConnectionState) (Identity, bool) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Identity{}, false
	}
	id, err := IdentityOf(cs.VerifiedChains[0][0])
	return id, err == nil
}
