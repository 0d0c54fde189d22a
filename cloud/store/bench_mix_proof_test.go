package store

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// mixProve gives r the proof the recorder holding priv gives dock when
// challenged at at (DockLink §6.5).
func mixProve(r *wire.AuditRecord, dock string, at time.Time, priv ed25519.PrivateKey) {
	p := docklink.AuthProof{Dock: dock, At: at, Serial: r.Serial}
	copy(p.Salt[:], dock)
	p.Signature = [ed25519.SignatureSize]byte(ed25519.Sign(priv, docklink.AuthMessage(p.Nonce(), r.Serial)))
	r.Proof = wire.ProofOf(p)
}

// mixCheck checks that proofs of enrolled recorders verified and that no
// report was refused.
func mixCheck(b *testing.B, be *backend, s *Store) {
	b.Helper()
	if n := be.count(b, s, `SELECT COUNT(*) FROM audit_records WHERE proof_key <> ''`); n == 0 {
		b.Fatal("no authenticated record's proof verified")
	}
	if n := s.Refused(KindRecorderRefused) + s.Refused(KindEventLogConflict); n != 0 {
		b.Fatalf("%d reports refused or kept aside", n)
	}
}
