package docklink

// Versions of DockLink this package speaks (§5.1).
const (
	Version1   = 1
	MinVersion = Version1
	MaxVersion = Version1
)

// Hello opens a session (§5.1), dock to device. It is valid in every state
// and restarts the session.
type Hello struct {
	MinVersion   uint8      // lowest protocol version the dock speaks
	MaxVersion   uint8      // highest protocol version the dock speaks
	Capabilities Capability // what the dock can use
	MaxPayload   uint32     // largest frame payload the dock accepts, bytes
	DockID       string     // the dock's identity, for the device's event log
}

// DeviceInfo identifies a recorder (§5.3).
type DeviceInfo struct {
	Serial     string // unique per device; the key of the dock's enrolment list
	Model      string
	Firmware   string   // firmware version
	HWRevision string   // hardware revision
	PublicKey  [32]byte // the device's Ed25519 public key (informational: the dock trusts only its enrolled key)
}

// HelloAck answers Hello (§5.2).
type HelloAck struct {
	Version        uint8      // the version chosen for this session
	Capabilities   Capability // what the device offers
	MaxPayload     uint32     // largest frame payload the device accepts, bytes
	MaxRead        uint32     // largest READ length the device serves, bytes
	MaxOutstanding uint16     // requests the dock may have outstanding at once
	Info           DeviceInfo
}

// Ping asks the device to answer with Pong (§5.4); it keeps an idle session
// alive and measures round-trip time.
type Ping struct{}

// Pong answers Ping (§5.4).
type Pong struct{}

func (*Hello) Type() Type    { return TypeHello }
func (*HelloAck) Type() Type { return TypeHelloAck }
func (*Ping) Type() Type     { return TypePing }
func (*Pong) Type() Type     { return TypePong }

// AppendPayload encodes §5.1.
func (m *Hello) AppendPayload(b []byte) ([]byte, error) {
	b = appendU8(b, m.MinVersion)
	b = appendU8(b, m.MaxVersion)
	b = appendU32(b, uint32(m.Capabilities))
	b = appendU32(b, m.MaxPayload)
	return appendStr(b, m.DockID)
}

// DecodePayload decodes §5.1.
func (m *Hello) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.MinVersion = d.u8()
	m.MaxVersion = d.u8()
	m.Capabilities = Capability(d.u32())
	m.MaxPayload = d.u32()
	m.DockID = d.str()
	return d.finish()
}

// AppendPayload encodes §5.2.
func (m *HelloAck) AppendPayload(b []byte) ([]byte, error) {
	b = appendU8(b, m.Version)
	b = appendU32(b, uint32(m.Capabilities))
	b = appendU32(b, m.MaxPayload)
	b = appendU32(b, m.MaxRead)
	b = appendU16(b, m.MaxOutstanding)
	return m.Info.append(b)
}

// DecodePayload decodes §5.2.
func (m *HelloAck) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Version = d.u8()
	m.Capabilities = Capability(d.u32())
	m.MaxPayload = d.u32()
	m.MaxRead = d.u32()
	m.MaxOutstanding = d.u16()
	m.Info.decode(&d)
	return d.finish()
}

// §5.3: serial, model, firmware, hw revision (str8 each), public key [32].
func (i *DeviceInfo) append(b []byte) ([]byte, error) {
	b, err := appendStrs(b, i.Serial, i.Model, i.Firmware, i.HWRevision)
	return append(b, i.PublicKey[:]...), err
}

func (i *DeviceInfo) decode(d *decoder) {
	i.Serial = d.str()
	i.Model = d.str()
	i.Firmware = d.str()
	i.HWRevision = d.str()
	i.PublicKey = d.bytes32()
}

// AppendPayload encodes §5.4 (empty).
func (*Ping) AppendPayload(b []byte) ([]byte, error) { return b, nil }

// DecodePayload decodes §5.4 (empty).
func (*Ping) DecodePayload(p []byte) error { return emptyDecode(p) }

// AppendPayload encodes §5.4 (empty).
func (*Pong) AppendPayload(b []byte) ([]byte, error) { return b, nil }

// DecodePayload decodes §5.4 (empty).
func (*Pong) DecodePayload(p []byte) error { return emptyDecode(p) }
