package wire

import "encoding/binary"

// canon builds the canonical byte strings that audit hashes and receipt
// signatures cover: fixed-width big-endian integers and u32-length-prefixed
// strings, after a domain-separation tag. A verifier in any language can
// rebuild them from the field list in the type's doc comment.
type canon []byte

func (c canon) str(s string) canon {
	c = binary.BigEndian.AppendUint32(c, uint32(len(s)))
	return append(c, s...)
}

func (c canon) u64(v uint64) canon { return binary.BigEndian.AppendUint64(c, v) }

func (c canon) i64(v int64) canon { return c.u64(uint64(v)) }
