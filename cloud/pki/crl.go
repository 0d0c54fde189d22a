package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync"
	"time"
)

// ErrRevoked: a client certificate is on the CA's revocation list.
var ErrRevoked = errors.New("pki: certificate revoked")

// RevocationList makes the CA's certificate revocation list (PEM, the form
// Mosquitto's crlfile reads) naming serials, revoked at now, numbered
// number. It is valid until the CA expires: a revocation list that
// expires would lock every machine out (OpenSSL refuses an expired one).
func (ca *CA) RevocationList(serials []*big.Int, number int64, now time.Time) ([]byte, error) {
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: now.Add(-time.Minute), NextUpdate: ca.Cert.NotAfter}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: now})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: revocation list: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// ParseRevocationList reads a PEM revocation list and checks that issuer
// signed it.
func ParseRevocationList(b []byte, issuer *x509.Certificate) (*x509.RevocationList, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "X509 CRL" {
		return nil, fmt.Errorf("%w: not a PEM revocation list", ErrArgument)
	}
	rl, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: revocation list: %w", err)
	}
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("pki: revocation list not signed by %s: %w", issuer.Subject, err)
	}
	return rl, nil
}

// Revocations checks client certificates against a revocation list file
// the CA signed (collector enroll revoke writes it). The file is read at
// every handshake and parsed again whenever it changed, so a revocation
// takes effect on the next handshake without a restart; a list that
// cannot be read or does not verify refuses every certificate (fail
// closed). Connections already open are not cut.
type Revocations struct {
	file   string
	issuer *x509.Certificate

	mu      sync.Mutex
	raw     []byte // the file as last parsed
	revoked map[string]bool
	err     error
}

// LoadRevocations checks against crlFile, signed by the CA in caFile.
func LoadRevocations(caFile, crlFile string) (*Revocations, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("pki: CA file: %w", err)
	}
	issuer, err := parseCert(b)
	if err != nil {
		return nil, err
	}
	r := &Revocations{file: crlFile, issuer: issuer}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Revocations) load() error {
	b, err := os.ReadFile(r.file) // a few KB: read at every handshake, parsed when it changed
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.err = fmt.Errorf("pki: revocation list: %w", err)
		return r.err
	}
	if r.revoked != nil && bytes.Equal(b, r.raw) {
		return r.err
	}
	r.raw = b
	rl, err := ParseRevocationList(b, r.issuer)
	if r.err = err; err != nil {
		return err
	}
	r.revoked = map[string]bool{}
	for _, e := range rl.RevokedCertificateEntries {
		r.revoked[e.SerialNumber.String()] = true
	}
	return nil
}

// Check refuses a revoked certificate (ErrRevoked), and every certificate
// while the list cannot be read.
func (r *Revocations) Check(c *x509.Certificate) error {
	if err := r.load(); err != nil {
		return fmt.Errorf("%w (refusing every certificate until it reads): %w", ErrRevoked, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revoked[c.SerialNumber.String()] {
		return fmt.Errorf("%w: serial %x (%s)", ErrRevoked, c.SerialNumber, c.Subject.CommonName)
	}
	return nil
}

// Enforce makes cfg's handshakes refuse a client certificate r lists.
func (r *Revocations) Enforce(cfg *tls.Config) {
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
			return nil // no client certificate (VerifyClientCertIfGiven); the endpoint decides
		}
		return r.Check(cs.VerifiedChains[0][0])
	}
}
