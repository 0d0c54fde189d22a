package docklink

import "crypto/ed25519"

// NonceSize is the length of the dock's authentication nonce (§6.1).
const NonceSize = 32

// AuthDomain separates DockLink device signatures from every other use of
// the device key (§6.2).
const AuthDomain = "DockLink/v1 device-auth\x00"

// AuthChallenge asks the device to prove possession of its key (§6.1).
type AuthChallenge struct {
	Nonce [NonceSize]byte // fresh random bytes from the dock, never reused
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
