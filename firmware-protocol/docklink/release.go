package docklink

// Release tells the device to free a segment (§11.4). The device frees it
// only if Seq is held and SHA256 equals the segment's hash.
type Release struct {
	Seq    uint64
	SHA256 [32]byte
}

// ReleaseAck answers Release once the segment is freed (§11.4).
type ReleaseAck struct {
	Seq uint64
}

func (*Release) Type() Type    { return TypeRelease }
func (*ReleaseAck) Type() Type { return TypeReleaseAck }

// AppendPayload encodes §11.4: seq u64, sha256 [32].
func (m *Release) AppendPayload(b []byte) ([]byte, error) {
	return append(appendU64(b, m.Seq), m.SHA256[:]...), nil
}

// DecodePayload decodes §11.4.
func (m *Release) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Seq = d.u64()
	m.SHA256 = d.bytes32()
	return d.finish()
}

// AppendPayload encodes §11.4: seq u64.
func (m *ReleaseAck) AppendPayload(b []byte) ([]byte, error) { return appendU64(b, m.Seq), nil }

// DecodePayload decodes §11.4.
func (m *ReleaseAck) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Seq = d.u64()
	return d.finish()
}
