package docklink

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// NonceSize is the length of the dock's authentication nonce (§6.1).
const NonceSize = 32

// AuthDomain separates DockLink device signatures from every other use of
// the device key (§6.2).
const AuthDomain = "DockLink/v1 device-auth\x00"

// NonceDomain separates the dock's nonce derivation (§6.5) from every
// other hash.
const NonceDomain = "DockLink/v1 dock-nonce\x00"

// SaltSize is the length of the random part of a derived nonce (§6.5).
const SaltSize = 16

// AuthChallenge asks the device to prove possession of its key (§6.1).
type AuthChallenge struct {
	Nonce [NonceSize]byte // unpredictable, never reused: DockNonce for the berth dock (§6.5)
}

// AuthResponse answers AuthChallenge (§6.1).
type AuthResponse struct {
	Signature [ed25519.SignatureSize]byte // Ed25519 over AuthMessage(nonce, serial)
}

func (*AuthChallenge) Type() Type { return TypeAuthChallenge }
func (*AuthResponse) Type() Type  { return TypeAuthResponse }

// AuthMessage returns the exact bytes the device signs (§6.2):
// AuthDomain || nonce[32] || u8 len(serial) || serial.
func AuthMessage(nonce [NonceSize]byte, serial string) []byte {
	b := make([]byte, 0, len(AuthDomain)+NonceSize+1+len(serial))
	b = append(b, AuthDomain...)
	b = append(b, nonce[:]...)
	b = append(b, byte(len(serial)))
	return append(b, serial...)
}

// VerifyAuth checks a device signature against an enrolled public key
// (§6.3).
func VerifyAuth(pub ed25519.PublicKey, nonce [NonceSize]byte, serial string, sig [ed25519.SignatureSize]byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(serial) > MaxString {
		return false
	}
	return ed25519.Verify(pub, AuthMessage(nonce, serial), sig[:])
}

// DockNonce derives the nonce a dock sends in AUTH_CHALLENGE (§6.5):
// SHA-256(NonceDomain || u32 len(dock) || dock || i64 unix-nanoseconds ||
// salt[16]), integers big-endian. The device's signature over it then
// names the dock and the time, and the salt keeps it unpredictable.
func DockNonce(dock string, at time.Time, salt [SaltSize]byte) [NonceSize]byte {
	b := make([]byte, 0, len(NonceDomain)+4+len(dock)+8+SaltSize)
	b = append(b, NonceDomain...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(dock)))
	b = append(b, dock...)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	b = append(b, salt[:]...)
	return sha256.Sum256(b)
}

// AuthProof is what a successful authentication leaves for a third party
// (§6.5): the device's signature over the nonce DockNonce(Dock, At, Salt).
// Anyone holding the device's public key can check that the device
// answered this dock's challenge at At; the dock cannot make one for a
// device it did not talk to.
type AuthProof struct {
	Dock      string
	At        time.Time // the dock's clock when it derived the nonce
	Salt      [SaltSize]byte
	Serial    string
	Signature [ed25519.SignatureSize]byte
}

// Nonce is the challenge the proof answers.
func (p AuthProof) Nonce() [NonceSize]byte { return DockNonce(p.Dock, p.At, p.Salt) }

// Verify checks the proof against a device's public key (§6.5).
func (p AuthProof) Verify(pub ed25519.PublicKey) bool {
	return VerifyAuth(pub, p.Nonce(), p.Serial, p.Signature)
}

// AppendPayload encodes §6.1: nonce [32].
func (m *AuthChallenge) AppendPayload(b []byte) ([]byte, error) { return append(b, m.Nonce[:]...), nil }

// DecodePayload decodes §6.1.
func (m *AuthChallenge) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Nonce = d.bytes32()
	return d.finish()
}

// AppendPayload encodes §6.1: signature [64].
func (m *AuthResponse) AppendPayload(b []byte) ([]byte, error) {
	return append(b, m.Signature[:]...), nil
}

// DecodePayload decodes §6.1.
func (m *AuthResponse) DecodePayload(p []byte) error {
	d := decoder{p: p}
	copy(m.Signature[:], d.take(ed25519.SignatureSize))
	return d.finish()
}
