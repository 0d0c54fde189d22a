package docklink

import (
	"errors"
	"fmt"
)

// Sentinel errors. Frame-level errors (ErrBadFrame, ErrCRC, ErrFrameTooLarge)
// concern one frame only: the Framer has already skipped to the next
// delimiter and the link is usable (§3.6). Use Recoverable to tell them from
// link failures.
var (
	ErrFrameTooLarge = errors.New("docklink: frame too large")
	ErrCRC           = errors.New("docklink: crc-32c mismatch")
	ErrBadFrame      = errors.New("docklink: malformed frame")
	ErrUnknownType   = errors.New("docklink: unknown message type")
	ErrBadMessage    = errors.New("docklink: malformed message payload")
	ErrFieldTooLong  = errors.New("docklink: field too long")

	ErrClosed         = errors.New("docklink: client closed")
	ErrLinkDown       = errors.New("docklink: link down")
	ErrUnexpected     = errors.New("docklink: unexpected response type")
	ErrNotNegotiated  = errors.New("docklink: hello not completed")
	ErrUnknownDevice  = errors.New("docklink: device not enrolled")
	ErrAuthFailed     = errors.New("docklink: device authentication failed")
	ErrBadInventory   = errors.New("docklink: inventory not strictly ascending")
	ErrHashMismatch   = errors.New("docklink: sha-256 mismatch")
	ErrShortSegment   = errors.New("docklink: device returned fewer bytes than the segment size")
	ErrBadData        = errors.New("docklink: data response does not match its read request")
	ErrRequestTimeout = errors.New("docklink: request timed out")
)

// Recoverable reports whether err concerns a single bad frame, after which
// the link is still usable (§3.6).
func Recoverable(err error) bool {
	return errors.Is(err, ErrBadFrame) || errors.Is(err, ErrCRC) || errors.Is(err, ErrFrameTooLarge)
}

// Error is the ERROR message (§12.1) and, as a Go error, a device's refusal
// of a request. Use errors.As or IsCode to inspect it.
type Error struct {
	Code    ErrorCode
	Message string // human-readable detail, at most 255 bytes of UTF-8
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("docklink: device error %s", e.Code)
	}
	return fmt.Sprintf("docklink: device error %s: %s", e.Code, e.Message)
}

// Type returns TypeError.
func (e *Error) Type() Type { return TypeError }

// AppendPayload encodes §12.1: code u16, message str8.
func (e *Error) AppendPayload(b []byte) ([]byte, error) {
	b = appendU16(b, uint16(e.Code))
	return appendStr(b, e.Message)
}

// DecodePayload decodes §12.1.
func (e *Error) DecodePayload(p []byte) error {
	d := decoder{p: p}
	e.Code = ErrorCode(d.u16())
	e.Message = d.str()
	return d.finish()
}

// IsCode reports whether err is (or wraps) a device *Error with the code.
func IsCode(err error, code ErrorCode) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// CodeFor maps a frame-level (or decode) error to the ERROR code the receiver answers
// with (§3.6).
func CodeFor(err error) ErrorCode {
	switch {
	case errors.Is(err, ErrCRC):
		return CodeCRC
	case errors.Is(err, ErrFrameTooLarge):
		return CodeFrameTooLarge
	case errors.Is(err, ErrBadFrame):
		return CodeBadFrame
	case errors.Is(err, ErrUnknownType):
		return CodeUnknownType
	case errors.Is(err, ErrBadMessage), errors.Is(err, ErrFieldTooLong):
		return CodeBadMessage
	}
	return CodeInternal
}
