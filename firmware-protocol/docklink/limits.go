package docklink

// Frame limits (§3.5).
const (
	// HeaderSize is the frame header length (§3.3).
	HeaderSize = 12
	// CRCSize is the CRC-32C trailer length (§3.4).
	CRCSize = 4
	// MaxPayload is the hard maximum payload of any frame, whatever was
	// negotiated (§3.5).
	MaxPayload = 1 << 20
	// MinPayload is the limit in force before HELLO and the smallest
	// MaxPayload a peer may announce (§3.5).
	MinPayload = 4096
)
