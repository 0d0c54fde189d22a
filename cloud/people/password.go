package people

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes passwords with argon2id into the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash), so the parameters travel
// with each hash and can be raised later without breaking stored ones.
type Hasher struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

// DefaultHasher is OWASP's argon2id recommendation (19 MiB, 2 passes, 1
// lane): about 50 ms a sign-in on a server core.
var DefaultHasher = Hasher{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// ErrPassword reports a wrong password, an unknown person or a malformed
// stored hash; the caller tells the person no more than that.
var ErrPassword = errors.New("people: wrong name or password")

// MinPasswordLen is the shortest password Hash accepts.
const MinPasswordLen = 10

// Hash hashes password with a fresh salt.
func (h Hasher) Hash(password string) (string, error) {
	if len(password) < MinPasswordLen || len(password) > 1024 {
		return "", fmt.Errorf("people: a password of %d-1024 bytes is required", MinPasswordLen)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	sum := argon2.IDKey([]byte(password), salt, h.Time, h.MemoryKiB, h.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.MemoryKiB, h.Time, h.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// maxMemoryKiB bounds the memory a stored hash may ask for (a tampered row
// must not exhaust the collector).
const maxMemoryKiB = 1 << 20

// Verify checks password against an encoded hash in constant time.
func Verify(encoded, password string) error {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return ErrPassword
	}
	var h Hasher
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.MemoryKiB, &h.Time, &h.Threads); err != nil ||
		h.MemoryKiB == 0 || h.MemoryKiB > maxMemoryKiB || h.Time == 0 || h.Time > 16 || h.Threads == 0 {
		return ErrPassword
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) < 16 || len(want) > 64 {
		return ErrPassword
	}
	got := argon2.IDKey([]byte(password), salt, h.Time, h.MemoryKiB, h.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrPassword
	}
	return nil
}
