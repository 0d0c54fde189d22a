package docklink

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// Primitive field encodings (§2): big-endian fixed-width integers, str8
// strings (u8 length then UTF-8 bytes), time64 (i64 nanoseconds since the
// Unix epoch, UTC; 0 means unknown).

// MaxString is the longest str8 field in bytes (§2.3).
const MaxString = 255

func appendU8(b []byte, v uint8) []byte   { return append(b, v) }
func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func appendStr(b []byte, s string) ([]byte, error) {
	if len(s) > MaxString {
		return b, fmt.Errorf("%w: %d bytes in a str8 field (max %d)", ErrFieldTooLong, len(s), MaxString)
	}
	if !utf8.ValidString(s) {
		return b, fmt.Errorf("%w: string is not valid utf-8", ErrBadMessage)
	}
	b = append(b, byte(len(s)))
	return append(b, s...), nil
}

// appendTime encodes time64 (§2.4). The zero time.Time encodes as 0.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return appendU64(b, 0)
	}
	return appendU64(b, uint64(t.UnixNano()))
}

// strs appends several str8 fields, stopping at the first error.
func appendStrs(b []byte, ss ...string) ([]byte, error) {
	var err error
	for _, s := range ss {
		if b, err = appendStr(b, s); err != nil {
			return b, err
		}
	}
	return b, nil
}

// decoder reads fields from a payload; the first shortage sticks as err so
// decoders read straight-line and check once (like x/crypto/cryptobyte).
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.p) < n {
		d.err = fmt.Errorf("%w: truncated (need %d more bytes, have %d)", ErrBadMessage, n, len(d.p))
		d.p = nil
		return nil
	}
	v := d.p[:n:n]
	d.p = d.p[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) time() time.Time {
	n := int64(d.u64())
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (d *decoder) bytes32() (out [32]byte) {
	copy(out[:], d.take(32))
	return out
}

func (d *decoder) str() string {
	n := int(d.u8())
	v := d.take(n)
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(v) {
		d.err = fmt.Errorf("%w: string is not valid utf-8", ErrBadMessage)
		return ""
	}
	return string(v)
}

// fail records a semantic error (an out-of-range enum, a bad count).
func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrBadMessage}, args...)...)
	}
}

// finish returns the first error, or ErrBadMessage if bytes are left over
// (§2.5: v1 payloads have no trailing bytes).
func (d *decoder) finish() error {
	if d.err != nil {
		return d.err
	}
	if len(d.p) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadMessage, len(d.p))
	}
	return nil
}
