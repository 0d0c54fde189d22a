package docklink

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// FrameVersion is byte 0 of every v1 frame header (§3.3).
const FrameVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the decoded frame header (§3.3).
type Header struct {
	Version uint8  // FrameVersion
	Type    Type   // message type
	Flags   uint16 // reserved: 0 in v1
	ReqID   uint32 // request id (§4.2); responses echo it
	Length  uint32 // payload length, bytes
}

// Frame is one received frame. Payload aliases the Framer's buffer and is
// valid until the next ReadFrame.
type Frame struct {
	Header
	Payload []byte
}

// AppendFrame appends the unencoded frame for h and payload — header,
// payload, CRC-32C (§3.3, §3.4) — to dst. h.Length is set from payload.
// Use AppendCOBS and a 0x00 to put it on the wire; Framer does both.
func AppendFrame(dst []byte, h Header, payload []byte) []byte {
	start := len(dst)
	dst = appendFrameHeader(dst, h.Version, h.Type, h.Flags, h.ReqID, uint32(len(payload)))
	dst = append(dst, payload...)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

func appendFrameHeader(b []byte, v uint8, t Type, flags uint16, id, n uint32) []byte {
	b = append(b, v, byte(t))
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint32(b, id)
	return binary.BigEndian.AppendUint32(b, n)
}

// ParseFrame checks an unencoded frame (after COBS decoding) and splits it
// into header and payload (§3.3–§3.5). maxPayload is the receiver's limit.
func ParseFrame(b []byte, maxPayload int) (Frame, error) {
	if len(b) < HeaderSize+CRCSize {
		return Frame{}, fmt.Errorf("%w: %d bytes is shorter than header and crc", ErrBadFrame, len(b))
	}
	body, sum := b[:len(b)-CRCSize], binary.BigEndian.Uint32(b[len(b)-CRCSize:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return Frame{}, fmt.Errorf("%w: computed %08x, frame says %08x", ErrCRC, got, sum)
	}
	h := Header{
		Version: body[0],
		Type:    Type(body[1]),
		Flags:   binary.BigEndian.Uint16(body[2:4]),
		ReqID:   binary.BigEndian.Uint32(body[4:8]),
		Length:  binary.BigEndian.Uint32(body[8:12]),
	}
	payload := body[HeaderSize:]
	switch {
	case h.Version != FrameVersion:
		return Frame{Header: h}, fmt.Errorf("%w: frame version %d", ErrBadFrame, h.Version)
	case h.Flags != 0:
		return Frame{Header: h}, fmt.Errorf("%w: reserved flags 0x%04x set", ErrBadFrame, h.Flags)
	case int(h.Length) != len(payload):
		return Frame{Header: h}, fmt.Errorf("%w: header length %d, payload %d bytes", ErrBadFrame, h.Length, len(payload))
	case len(payload) > maxPayload:
		return Frame{Header: h}, fmt.Errorf("%w: payload %d bytes, limit %d", ErrFrameTooLarge, len(payload), maxPayload)
	}
	return Frame{Header: h, Payload: payload}, nil
}

// Framer reads and writes DockLink frames on a byte stream (§3). Reads and
// writes may run concurrently with each other, but not with themselves:
// one goroutine reads, writers serialise (the Client holds a mutex).
type Framer struct {
	br        *bufio.Reader
	w         io.Writer
	recvLimit int // payload limit for frames we receive
	sendLimit int // payload limit of the peer

	acc  []byte // encoded frame spanning more than the bufio buffer
	rbuf []byte // decoded frame
	wbuf []byte // unencoded frame being written
	ebuf []byte // encoded frame being written
}

// ReadBufferSize is the Framer's bufio read buffer: it holds a whole
// 256 KiB DATA frame (the default READ length), so such frames are decoded
// straight out of it. Larger frames are gathered into a second buffer,
// allocated at most up to the receive limit (§3.5).
const ReadBufferSize = 264 << 10

// NewFramer returns a Framer reading r and writing w. Both limits start at
// MinPayload, the pre-HELLO limit (§3.5).
func NewFramer(r io.Reader, w io.Writer) *Framer {
	return &Framer{br: bufio.NewReaderSize(r, ReadBufferSize), w: w, recvLimit: MinPayload, sendLimit: MinPayload}
}

// SetLimits sets the payload limits: recv for frames this side accepts,
// send for frames the peer accepts (as negotiated in HELLO, §5). Values are
// clamped to [MinPayload, MaxPayload].
func (f *Framer) SetLimits(recv, send int) {
	f.recvLimit = clampPayload(recv)
	f.sendLimit = clampPayload(send)
}

// SetSendLimit sets only the peer's payload limit. Unlike SetLimits it
// does not touch the read side, so it may run while another goroutine is
// in ReadFrame (writes must still be serialised).
func (f *Framer) SetSendLimit(send int) { f.sendLimit = clampPayload(send) }

// Limits returns the receive and send payload limits.
func (f *Framer) Limits() (recv, send int) { return f.recvLimit, f.sendLimit }

func clampPayload(n int) int { return min(max(n, MinPayload), MaxPayload) }

// ReadFrame reads the next frame. Empty frames (consecutive delimiters)
// are skipped (§3.6). An error wrapping ErrBadFrame, ErrCRC or
// ErrFrameTooLarge concerns one frame only and the next call reads the next
// frame (Recoverable(err)); any other error is the link's and final. A link
// that ends inside a frame returns io.ErrUnexpectedEOF.
func (f *Framer) ReadFrame() (Frame, error) {
	for {
		enc, err := f.readBlock()
		if err != nil {
			return Frame{}, err
		}
		if len(enc) == 0 {
			continue // §3.6: empty frames are padding
		}
		// Decoded length < encoded length, checked in readBlock against
		// the limit: this allocation is bounded (§3.5).
		f.rbuf, err = decodeCOBS(f.rbuf[:0], enc)
		if err != nil {
			return Frame{}, err
		}
		return ParseFrame(f.rbuf, f.recvLimit)
	}
}

// readBlock returns the bytes before the next 0x00, never holding more than
// the encoded size of a maximal frame (§3.5).
func (f *Framer) readBlock() ([]byte, error) {
	maxEnc := COBSMaxLen(HeaderSize + f.recvLimit + CRCSize)
	f.acc = f.acc[:0]
	for {
		line, err := f.br.ReadSlice(0)
		switch {
		case err == nil:
			line = line[:len(line)-1]
			if len(f.acc) == 0 {
				if len(line) > maxEnc {
					return nil, fmt.Errorf("%w: %d encoded bytes, limit %d", ErrFrameTooLarge, len(line), maxEnc)
				}
				return line, nil
			}
			if len(f.acc)+len(line) > maxEnc {
				return nil, fmt.Errorf("%w: %d encoded bytes, limit %d", ErrFrameTooLarge, len(f.acc)+len(line), maxEnc)
			}
			f.acc = append(f.acc, line...)
			return f.acc, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(f.acc)+len(line) > maxEnc {
				return nil, f.skipOversize(len(f.acc)+len(line), maxEnc)
			}
			f.acc = append(f.acc, line...)
		default:
			if len(f.acc)+len(line) > 0 && errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("docklink: link ended inside a frame: %w", io.ErrUnexpectedEOF)
			}
			return nil, err
		}
	}
}

// skipOversize discards input up to and including the next delimiter, so
// the frame after an oversize one is read normally (§3.6).
func (f *Framer) skipOversize(seen, maxEnc int) error {
	for {
		_, err := f.br.ReadSlice(0)
		if err == nil {
			return fmt.Errorf("%w: more than %d encoded bytes, limit %d", ErrFrameTooLarge, seen, maxEnc)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// WriteMessage encodes m as one frame with request id id and writes it.
// The payload must fit the peer's limit (ErrFrameTooLarge).
func (f *Framer) WriteMessage(id uint32, m Message) error {
	b := appendFrameHeader(f.wbuf[:0], FrameVersion, m.Type(), 0, id, 0)
	b, err := m.AppendPayload(b)
	f.wbuf = b
	if err != nil {
		return fmt.Errorf("docklink: encode %s: %w", m.Type(), err)
	}
	return f.finishFrame(true)
}

// WriteFrame writes a frame with an arbitrary header and raw payload (the
// conformance suite uses it to send what a correct dock never would). It
// does not check the peer's limit.
func (f *Framer) WriteFrame(h Header, payload []byte) error {
	f.wbuf = appendFrameHeader(f.wbuf[:0], h.Version, h.Type, h.Flags, h.ReqID, 0)
	f.wbuf = append(f.wbuf, payload...)
	return f.finishFrame(false)
}

// finishFrame fills the length, appends the CRC, COBS-encodes, delimits and
// writes the frame in f.wbuf.
func (f *Framer) finishFrame(checkLimit bool) error {
	n := len(f.wbuf) - HeaderSize
	if checkLimit && n > f.sendLimit {
		return fmt.Errorf("%w: payload %d bytes, peer limit %d", ErrFrameTooLarge, n, f.sendLimit)
	}
	binary.BigEndian.PutUint32(f.wbuf[8:12], uint32(n))
	f.wbuf = binary.BigEndian.AppendUint32(f.wbuf, crc32.Checksum(f.wbuf, castagnoli))
	f.ebuf = append(AppendCOBS(f.ebuf[:0], f.wbuf), 0)
	_, err := f.w.Write(f.ebuf)
	return err
}

// WriteRaw writes bytes as they are (a leading delimiter, or test garbage).
func (f *Framer) WriteRaw(p []byte) error {
	_, err := f.w.Write(p)
	return err
}
