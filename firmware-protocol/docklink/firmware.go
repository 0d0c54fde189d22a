package docklink

import (
	"crypto/ed25519"
	"fmt"
)

// Firmware update messages (§17), offered with capability CapFirmware.

// FirmwareDomain separates vendor image signatures from every other use of
// an Ed25519 key (§17.2).
const FirmwareDomain = "DockLink/v1 firmware-image\x00"

// FwWriteHeaderSize is the payload overhead of FW_WRITE before its bytes
// (§17.4).
const FwWriteHeaderSize = 8

// FwResult is the outcome of the last firmware update attempt (§17.6).
type FwResult uint8

// Firmware update results (§17.6).
const (
	FwResultNone       FwResult = 0 // no update attempted
	FwResultInstalled  FwResult = 1 // the new image booted and runs
	FwResultRolledBack FwResult = 2 // the new image failed to boot; the previous one runs again
	FwResultRejected   FwResult = 3 // the staged image failed verification at boot; nothing changed
)

var fwResultNames = [...]string{"none", "installed", "rolled-back", "rejected"}

func (r FwResult) String() string {
	if int(r) < len(fwResultNames) {
		return fwResultNames[r]
	}
	return fmt.Sprintf("fw-result(%d)", uint8(r))
}

// Valid reports whether r is defined.
func (r FwResult) Valid() bool { return int(r) < len(fwResultNames) }

// FirmwareMessage returns the exact bytes the vendor signs for an image
// (§17.2): FirmwareDomain || str8 model || str8 version || u64 size ||
// sha256[32].
func FirmwareMessage(model, version string, size uint64, sha [32]byte) []byte {
	b := make([]byte, 0, len(FirmwareDomain)+2+len(model)+len(version)+8+32)
	b = append(b, FirmwareDomain...)
	b = append(b, byte(len(model)))
	b = append(b, model...)
	b = append(b, byte(len(version)))
	b = append(b, version...)
	b = appendU64(b, size)
	return append(b, sha[:]...)
}

// SignFirmware signs an image's §17.2 message with the vendor key.
func SignFirmware(vendor ed25519.PrivateKey, model, version string, size uint64, sha [32]byte) (sig [ed25519.SignatureSize]byte) {
	copy(sig[:], ed25519.Sign(vendor, FirmwareMessage(model, version, size, sha)))
	return sig
}

// VerifyFirmware checks an offer's signature against the vendor's public
// key (§17.2).
func VerifyFirmware(vendor ed25519.PublicKey, o *FwOffer) bool {
	if len(vendor) != ed25519.PublicKeySize || len(o.Model) > MaxString || len(o.Version) > MaxString {
		return false
	}
	return ed25519.Verify(vendor, FirmwareMessage(o.Model, o.Version, o.Size, o.SHA256), o.Signature[:])
}

// FwOffer offers a firmware image (§17.3).
type FwOffer struct {
	Model     string   // the recorder model the image is built for (DeviceInfo.Model)
	Version   string   // the image's firmware version, non-empty
	Size      uint64   // image bytes, >= 1
	SHA256    [32]byte // SHA-256 of the whole image
	Signature [ed25519.SignatureSize]byte
}

// FwOfferAck accepts an offer and says where the transfer continues (§17.3).
type FwOfferAck struct {
	Held     uint64 // bytes of this image the device already holds: the next FW_WRITE's offset
	MaxWrite uint32 // largest FW_WRITE data length the device takes, >= 1
}

// FwWrite carries image bytes at Offset (§17.4).
type FwWrite struct {
	Offset uint64
	// Bytes are the image bytes from Offset, at least one. After
	// DecodePayload they alias the payload buffer, as Data.Bytes do.
	Bytes []byte
}

// FwWriteAck answers FwWrite once the bytes are durable (§17.4).
type FwWriteAck struct {
	Held uint64 // bytes of the image now held durably
}

// FwCommit asks the device to verify the whole image and install it at
// the next boot (§17.5).
type FwCommit struct {
	SHA256 [32]byte // the offered image's hash
	Reboot bool     // reboot right after FW_COMMIT_ACK (the link ends)
}

// FwCommitAck answers FwCommit: the image is verified and pending (§17.5).
type FwCommitAck struct {
	Version string // the version that boots next
}

// FwStatusGet asks for the firmware state (§17.6).
type FwStatusGet struct{}

// FwStatus is the device's firmware state (§17.6).
type FwStatus struct {
	Running       string   // version running now
	Previous      string   // version kept for rollback, "" if none
	Pending       string   // version that boots next, "" if none
	Result        FwResult // outcome of the last attempt
	ResultVersion string   // the version that attempt tried to install, "" with FwResultNone
	Detail        string   // why (rollback cause, verification failure), may be ""
	StagedSHA256  [32]byte // hash of the image being received, zero if none
	StagedHeld    uint64   // bytes of it held durably
}

func (*FwOffer) Type() Type     { return TypeFwOffer }
func (*FwOfferAck) Type() Type  { return TypeFwOfferAck }
func (*FwWrite) Type() Type     { return TypeFwWrite }
func (*FwWriteAck) Type() Type  { return TypeFwWriteAck }
func (*FwCommit) Type() Type    { return TypeFwCommit }
func (*FwCommitAck) Type() Type { return TypeFwCommitAck }
func (*FwStatusGet) Type() Type { return TypeFwStatusGet }
func (*FwStatus) Type() Type    { return TypeFwStatus }

// AppendPayload encodes §17.3: model str8, version str8, size u64,
// sha256 [32], signature [64].
func (m *FwOffer) AppendPayload(b []byte) ([]byte, error) {
	b, err := appendStrs(b, m.Model, m.Version)
	if err != nil {
		return b, err
	}
	b = append(appendU64(b, m.Size), m.SHA256[:]...)
	return append(b, m.Signature[:]...), nil
}

// DecodePayload decodes §17.3.
func (m *FwOffer) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Model = d.str()
	m.Version = d.str()
	m.Size = d.u64()
	m.SHA256 = d.bytes32()
	copy(m.Signature[:], d.take(ed25519.SignatureSize))
	if d.err == nil && m.Version == "" {
		d.fail("empty version")
	}
	if d.err == nil && m.Size == 0 {
		d.fail("image size 0")
	}
	return d.finish()
}

// AppendPayload encodes §17.3: held u64, max_write u32.
func (m *FwOfferAck) AppendPayload(b []byte) ([]byte, error) {
	return appendU32(appendU64(b, m.Held), m.MaxWrite), nil
}

// DecodePayload decodes §17.3.
func (m *FwOfferAck) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Held = d.u64()
	m.MaxWrite = d.u32()
	if d.err == nil && m.MaxWrite == 0 {
		d.fail("max_write 0")
	}
	return d.finish()
}

// AppendPayload encodes §17.4: offset u64, then the bytes.
func (m *FwWrite) AppendPayload(b []byte) ([]byte, error) {
	if len(m.Bytes) == 0 {
		return b, fmt.Errorf("%w: FW_WRITE without bytes", ErrBadMessage)
	}
	return append(appendU64(b, m.Offset), m.Bytes...), nil
}

// DecodePayload decodes §17.4.
func (m *FwWrite) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Offset = d.u64()
	if d.err != nil {
		return d.err
	}
	if len(d.p) == 0 {
		return fmt.Errorf("%w: FW_WRITE without bytes", ErrBadMessage)
	}
	m.Bytes = d.p
	return nil
}

// AppendPayload encodes §17.4: held u64.
func (m *FwWriteAck) AppendPayload(b []byte) ([]byte, error) { return appendU64(b, m.Held), nil }

// DecodePayload decodes §17.4.
func (m *FwWriteAck) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Held = d.u64()
	return d.finish()
}

// AppendPayload encodes §17.5: sha256 [32], reboot bool.
func (m *FwCommit) AppendPayload(b []byte) ([]byte, error) {
	return appendU8(append(b, m.SHA256[:]...), boolByte(m.Reboot)), nil
}

// DecodePayload decodes §17.5.
func (m *FwCommit) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.SHA256 = d.bytes32()
	m.Reboot = d.boolean()
	return d.finish()
}

// AppendPayload encodes §17.5: version str8.
func (m *FwCommitAck) AppendPayload(b []byte) ([]byte, error) { return appendStr(b, m.Version) }

// DecodePayload decodes §17.5.
func (m *FwCommitAck) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Version = d.str()
	return d.finish()
}

// AppendPayload encodes §17.6 (empty).
func (*FwStatusGet) AppendPayload(b []byte) ([]byte, error) { return b, nil }

// DecodePayload decodes §17.6 (empty).
func (*FwStatusGet) DecodePayload(p []byte) error { return emptyDecode(p) }

// AppendPayload encodes §17.6: running, previous, pending str8, result u8,
// result_version, detail str8, staged_sha256 [32], staged_held u64.
func (m *FwStatus) AppendPayload(b []byte) ([]byte, error) {
	b, err := appendStrs(b, m.Running, m.Previous, m.Pending)
	if err != nil {
		return b, err
	}
	b = appendU8(b, uint8(m.Result))
	if b, err = appendStrs(b, m.ResultVersion, m.Detail); err != nil {
		return b, err
	}
	return appendU64(append(b, m.StagedSHA256[:]...), m.StagedHeld), nil
}

// DecodePayload decodes §17.6.
func (m *FwStatus) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.Running = d.str()
	m.Previous = d.str()
	m.Pending = d.str()
	m.Result = FwResult(d.u8())
	m.ResultVersion = d.str()
	m.Detail = d.str()
	m.StagedSHA256 = d.bytes32()
	m.StagedHeld = d.u64()
	if d.err == nil && !m.Result.Valid() {
		d.fail("firmware result %d", m.Result)
	}
	return d.finish()
}
