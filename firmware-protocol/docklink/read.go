package docklink

// Read asks for bytes of a segment (§11.1).
type Read struct {
	Seq    uint64 // segment sequence number
	Offset uint64 // first byte, 0-based
	Length uint32 // bytes wanted, at most the device's MaxRead
}

// Data answers Read (§11.2).
type Data struct {
	Seq    uint64 // as in the Read
	Offset uint64 // as in the Read
	// Bytes are the segment bytes from Offset: exactly Read.Length of them,
	// fewer only when the segment ends first. After DecodePayload, Bytes
	// aliases the payload buffer (no copy): copy it if you keep it beyond
	// the next frame read.
	Bytes []byte
}

// DataHeaderSize is the payload overhead of DATA before its bytes (§11.2).
const DataHeaderSize = 16

func (*Read) Type() Type { return TypeRead }
func (*Data) Type() Type { return TypeData }

// AppendPayload encodes §11.1: seq u64, offset u64, length u32.
func (m *Read) AppendPayload(b []byte) ([]byte, error) {
	return appendU32(appendU64(appendU64(b, m.Seq), m.Offset), m.Length), nil
}

// DecodePayload decodes §11.1.
func (m *Read) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Seq = d.u64()
	m.Offset = d.u64()
	m.Length = d.u32()
	return d.finish()
}

// AppendPayload encodes §11.2: seq u64, offset u64, then the bytes to the
// end of the payload.
func (m *Data) AppendPayload(b []byte) ([]byte, error) {
	return append(appendU64(appendU64(b, m.Seq), m.Offset), m.Bytes...), nil
}

// DecodePayload decodes §11.2.
func (m *Data) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Seq = d.u64()
	m.Offset = d.u64()
	if d.err != nil {
		return d.err
	}
	m.Bytes = d.p
	return nil
}
