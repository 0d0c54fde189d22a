package docklink

import (
	"bytes"
	"fmt"
)

// COBS (Consistent Overhead Byte Stuffing, Cheshire & Baker 1999) removes
// every 0x00 from a frame so 0x00 can delimit frames on the wire (§3.2).
// Written here rather than imported: the few COBS modules for Go are
// unmaintained and byte-at-a-time; this one moves whole runs with
// bytes.IndexByte and copy, which the 400 MB/s read target needs.

// COBSMaxLen is the longest COBS encoding of n bytes (without the
// delimiter): one code byte per started run of 254 bytes, plus one.
func COBSMaxLen(n int) int { return n + n/254 + 1 }

// AppendCOBS appends the COBS encoding of src to dst (no delimiter).
func AppendCOBS(dst, src []byte) []byte {
	for {
		n := min(len(src), 254)
		if i := bytes.IndexByte(src[:n], 0); i >= 0 {
			// A run of i non-zero bytes ended by a zero.
			dst = append(dst, byte(i+1))
			dst = append(dst, src[:i]...)
			src = src[i+1:]
			continue
		}
		if n == 254 {
			// A full run with no zero: code 0xFF, no implied zero.
			dst = append(dst, 0xFF)
			dst = append(dst, src[:254]...)
			src = src[254:]
			if len(src) == 0 {
				return dst
			}
			continue
		}
		// Final run (the implied trailing zero is not data).
		dst = append(dst, byte(n+1))
		return append(dst, src...)
	}
}

// DecodeCOBS appends the decoding of the COBS block src (no delimiter) to
// dst. It fails with ErrBadFrame on an empty block, a 0x00 byte or a run
// longer than the block.
func DecodeCOBS(dst, src []byte) ([]byte, error) {
	if bytes.IndexByte(src, 0) >= 0 {
		return dst, fmt.Errorf("%w: 0x00 inside a cobs block", ErrBadFrame)
	}
	return decodeCOBS(dst, src)
}

// decodeCOBS is DecodeCOBS for a block known to hold no 0x00 (the Framer's
// blocks end at the first 0x00), saving a scan on the hot path.
func decodeCOBS(dst, src []byte) ([]byte, error) {
	if len(src) == 0 {
		return dst, fmt.Errorf("%w: empty cobs block", ErrBadFrame)
	}
	for len(src) > 0 {
		c := int(src[0])
		if c == 0 {
			return dst, fmt.Errorf("%w: cobs code byte 0x00", ErrBadFrame)
		}
		if c > len(src) {
			return dst, fmt.Errorf("%w: cobs run of %d overruns the block", ErrBadFrame, c-1)
		}
		dst = append(dst, src[1:c]...)
		src = src[c:]
		if c != 0xFF && len(src) > 0 {
			dst = append(dst, 0)
		}
	}
	return dst, nil
}
