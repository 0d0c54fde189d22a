package device

import (
	"errors"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Firmware is the recorder's firmware store (§17): an optional extension of
// Backend. A Backend that implements it offers capability FIRMWARE; one
// that does not has the firmware messages answered UNSUPPORTED.
type Firmware interface {
	// FirmwareOffer checks an offered image (§17.3): its signature with
	// the vendor key the device trusts and its model (an error wrapping
	// ErrBadSignature), its size (ErrImageTooLarge). If it is the image
	// already staged it returns the bytes held durably of it (resume);
	// otherwise it discards any staged image, stages this one and
	// returns 0.
	FirmwareOffer(o docklink.FwOffer) (held uint64, err error)
	// FirmwareWrite appends b at offset to the staged image whose hash is
	// sha and returns once the bytes are durable, with the bytes now held.
	// offset must equal the bytes held (ErrOutOfRange otherwise).
	FirmwareWrite(sha [32]byte, offset uint64, b []byte) (held uint64, err error)
	// FirmwareCommit verifies the whole staged image — all of it held, its
	// SHA-256, the vendor signature again — and makes it the image booted
	// next (§17.5). It returns that version. A hash that differs wraps
	// ErrImageMismatch and the staged image is discarded; an incomplete
	// image wraps ErrOutOfRange.
	FirmwareCommit(sha [32]byte) (version string, err error)
	// FirmwareReboot restarts the device once FW_COMMIT_ACK with reboot
	// set is sent; Serve then returns ErrRebooted. The next boot installs
	// the pending image or rolls back to the previous one (§17.7).
	FirmwareReboot()
	// FirmwareStatus reports versions, the last result and the staged
	// image (§17.6).
	FirmwareStatus() docklink.FwStatus
}

// Errors a Firmware backend returns (wrapped with %w).
var (
	ErrBadSignature  = errors.New("device: firmware signature does not verify, or the image is for another model")
	ErrImageMismatch = errors.New("device: firmware image hash does not match the offer")
	ErrImageTooLarge = errors.New("device: firmware image larger than the device takes")
	ErrOutOfRange    = errors.New("device: firmware write or commit out of range")
)

// ErrRebooted is returned by Serve when the device rebooted after a
// FW_COMMIT with reboot set (§17.5): the link ends with the session.
var ErrRebooted = errors.New("device: rebooted to install firmware")

// fwSession is the session's accepted offer (§17.4: writes and the commit
// need one in the same session).
type fwSession struct {
	offered bool
	offer   docklink.FwOffer
	reboot  bool // reboot after sending the current response
}

func (s *session) firmware() (Firmware, docklink.Message) {
	fw, ok := s.b.(Firmware)
	if !ok || !s.caps.Has(docklink.CapFirmware) {
		return nil, refuse(docklink.CodeUnsupported, "firmware update not offered")
	}
	return fw, nil
}

// maxWrite is the largest FW_WRITE data length taken (§17.3).
func (s *session) maxWrite() uint32 {
	recv, _ := s.fr.Limits()
	return min(s.o.MaxRead, uint32(recv-docklink.FwWriteHeaderSize))
}

func (s *session) fwOffer(m *docklink.FwOffer) docklink.Message {
	fw, refused := s.firmware()
	if refused != nil {
		return refused
	}
	s.fw = fwSession{}
	held, err := fw.FirmwareOffer(*m)
	switch {
	case errors.Is(err, ErrBadSignature):
		return refuse(docklink.CodeBadSignature, "%v", err)
	case errors.Is(err, ErrImageTooLarge):
		return refuse(docklink.CodeOutOfRange, "%v", err)
	case err != nil:
		return refuse(docklink.CodeStorage, "firmware offer: %v", err)
	case held > m.Size:
		return refuse(docklink.CodeInternal, "holds %d bytes of a %d-byte image", held, m.Size)
	}
	s.fw = fwSession{offered: true, offer: *m}
	return &docklink.FwOfferAck{Held: held, MaxWrite: s.maxWrite()}
}

func (s *session) fwWrite(m *docklink.FwWrite) docklink.Message {
	fw, refused := s.firmware()
	if refused != nil {
		return refused
	}
	if !s.fw.offered {
		return refuse(docklink.CodeNoOffer, "FW_WRITE before FW_OFFER")
	}
	if n := uint64(len(m.Bytes)); n > uint64(s.maxWrite()) || m.Offset > s.fw.offer.Size || n > s.fw.offer.Size-m.Offset {
		return refuse(docklink.CodeOutOfRange, "write of %d bytes at %d: image is %d bytes, max_write %d", n, m.Offset, s.fw.offer.Size, s.maxWrite())
	}
	held, err := fw.FirmwareWrite(s.fw.offer.SHA256, m.Offset, m.Bytes)
	switch {
	case errors.Is(err, ErrOutOfRange):
		return refuse(docklink.CodeOutOfRange, "%v", err)
	case err != nil:
		return refuse(docklink.CodeStorage, "firmware write: %v", err)
	}
	return &docklink.FwWriteAck{Held: held}
}

func (s *session) fwCommit(m *docklink.FwCommit) docklink.Message {
	fw, refused := s.firmware()
	if refused != nil {
		return refused
	}
	if !s.fw.offered || s.fw.offer.SHA256 != m.SHA256 {
		return refuse(docklink.CodeNoOffer, "FW_COMMIT of an image not offered in this session")
	}
	v, err := fw.FirmwareCommit(m.SHA256)
	switch {
	case errors.Is(err, ErrImageMismatch):
		s.fw = fwSession{}
		return refuse(docklink.CodeImageMismatch, "%v", err)
	case errors.Is(err, ErrBadSignature):
		s.fw = fwSession{}
		return refuse(docklink.CodeBadSignature, "%v", err)
	case errors.Is(err, ErrOutOfRange):
		return refuse(docklink.CodeOutOfRange, "%v", err)
	case err != nil:
		return refuse(docklink.CodeStorage, "firmware commit: %v", err)
	}
	s.fw.reboot = m.Reboot
	return &docklink.FwCommitAck{Version: v}
}

func (s *session) fwStatus() docklink.Message {
	fw, refused := s.firmware()
	if refused != nil {
		return refused
	}
	st := fw.FirmwareStatus()
	return &st
}
