package docklink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"
)

func TestCOBSVectors(t *testing.T) {
	// The examples of Cheshire & Baker's paper as listed on Wikipedia.
	seq := func(from, to int) []byte {
		var b []byte
		for i := from; i <= to; i++ {
			b = append(b, byte(i))
		}
		return b
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	tests := []struct {
		name     string
		in, want []byte
	}{
		{"empty", nil, []byte{0x01}},
		{"zero", []byte{0x00}, []byte{0x01, 0x01}},
		{"two zeros", []byte{0x00, 0x00}, []byte{0x01, 0x01, 0x01}},
		{"zero inside", []byte{0x00, 0x11, 0x00}, []byte{0x01, 0x02, 0x11, 0x01}},
		{"mixed", []byte{0x11, 0x22, 0x00, 0x33}, []byte{0x03, 0x11, 0x22, 0x02, 0x33}},
		{"no zero", []byte{0x11, 0x22, 0x33, 0x44}, []byte{0x05, 0x11, 0x22, 0x33, 0x44}},
		{"trailing zeros", []byte{0x11, 0x00, 0x00, 0x00}, []byte{0x02, 0x11, 0x01, 0x01, 0x01}},
		{"254 non-zero", seq(1, 254), cat([]byte{0xFF}, seq(1, 254))},
		{"zero then 254", seq(0, 254), cat([]byte{0x01, 0xFF}, seq(1, 254))},
		{"255 non-zero", seq(1, 255), cat([]byte{0xFF}, seq(1, 254), []byte{0x02, 0xFF})},
		{"254 then zero", cat(seq(1, 254), []byte{0}), cat([]byte{0xFF}, seq(1, 254), []byte{0x01, 0x01})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendCOBS(nil, tc.in)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("encode %x:\n got %x\nwant %x", tc.in, got, tc.want)
			}
			dec, err := DecodeCOBS(nil, got)
			if err != nil || !bytes.Equal(dec, tc.in) || (len(tc.in) == 0) != (len(dec) == 0) {
				t.Fatalf("decode %x: %x, %v", got, dec, err)
			}
		})
	}
}

func TestDecodeCOBSRejects(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":        {},
		"code zero":    {0x00, 0x01},
		"overrun":      {0x05, 0x11, 0x22},
		"zero in run":  {0x03, 0x11, 0x00},
		"late overrun": {0x02, 0x11, 0x09},
	} {
		if _, err := DecodeCOBS(nil, in); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: %v, want ErrBadFrame", name, err)
		}
	}
}

func frameBytes(t testing.TB, id uint32, m Message) []byte { return wireFrame(t, id, m) }

// readAll reads frames until the input ends and records each outcome.
func readAll(fr *Framer) (frames []Frame, errs []error, final error) {
	for {
		f, err := fr.ReadFrame()
		if err == nil {
			f.Payload = append([]byte(nil), f.Payload...)
			frames = append(frames, f)
			continue
		}
		if Recoverable(err) {
			errs = append(errs, err)
			continue
		}
		return frames, errs, err
	}
}

func TestFramerRecovery(t *testing.T) {
	ping := frameBytes(t, 7, &Ping{})
	read := frameBytes(t, 8, &Read{Seq: 1, Offset: 2, Length: 3})
	badCRC := append([]byte(nil), ping...)
	plain, _ := DecodeCOBS(nil, badCRC[:len(badCRC)-1])
	plain[len(plain)-1] ^= 0x01
	badCRC = append(AppendCOBS(nil, plain), 0)
	lenLie := AppendFrame(nil, Header{Version: 1, Type: TypePing, ReqID: 9}, nil)
	lenLie[11] = 5 // header length 5, payload 0
	big := append(AppendCOBS(nil, AppendFrame(nil, Header{Version: 1, Type: TypeData, ReqID: 3}, bytes.Repeat([]byte{7}, MinPayload+1))), 0)
	huge := append(bytes.Repeat([]byte{0x55}, 3*ReadBufferSize), 0) // longer than the read buffer and the limit

	tests := []struct {
		name      string
		in        []byte
		wantIDs   []uint32
		wantErrs  []error
		wantFinal error
	}{
		{"clean", cat(ping, read), []uint32{7, 8}, nil, io.EOF},
		{"leading delimiters are padding", cat([]byte{0, 0, 0}, ping), []uint32{7}, nil, io.EOF},
		{"garbage before a frame", cat([]byte("noise\xff\x13"), []byte{0}, ping), []uint32{7}, []error{ErrBadFrame}, io.EOF},
		{"garbage glued to a frame", cat([]byte{0x42, 0x42}, ping, read), []uint32{8}, []error{ErrBadFrame}, io.EOF},
		{"crc error", cat(badCRC, read), []uint32{8}, []error{ErrCRC}, io.EOF},
		{"length field lies", cat(append(AppendCOBS(nil, fixCRC(lenLie)), 0), read), []uint32{8}, []error{ErrBadFrame}, io.EOF},
		{"oversize frame", cat(big, read), []uint32{8}, []error{ErrFrameTooLarge}, io.EOF},
		{"oversize beyond the buffer", cat(huge, ping), []uint32{7}, []error{ErrFrameTooLarge}, io.EOF},
		{"truncated at end of link", cat(ping, read[:len(read)-5]), []uint32{7}, nil, io.ErrUnexpectedEOF},
		{"truncated then next frame", cat(read[:10], []byte{0}, ping), []uint32{7}, []error{ErrBadFrame}, io.EOF},
		{"bad version", cat(withHeader(t, func(h []byte) { h[0] = 2 }), ping), []uint32{7}, []error{ErrBadFrame}, io.EOF},
		{"reserved flags", cat(withHeader(t, func(h []byte) { h[3] = 1 }), ping), []uint32{7}, []error{ErrBadFrame}, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frames, errs, final := readAll(NewFramer(bytes.NewReader(tc.in), nil))
			var ids []uint32
			for _, f := range frames {
				ids = append(ids, f.ReqID)
			}
			if !equalIDs(ids, tc.wantIDs) {
				t.Errorf("frames %v, want %v", ids, tc.wantIDs)
			}
			if len(errs) != len(tc.wantErrs) {
				t.Fatalf("errors %v, want %v", errs, tc.wantErrs)
			}
			for i := range errs {
				if !errors.Is(errs[i], tc.wantErrs[i]) {
					t.Errorf("error %d: %v, want %v", i, errs[i], tc.wantErrs[i])
				}
			}
			if !errors.Is(final, tc.wantFinal) {
				t.Errorf("final %v, want %v", final, tc.wantFinal)
			}
		})
	}
}

func TestWriteMessageRespectsPeerLimit(t *testing.T) {
	fr := NewFramer(nil, io.Discard)
	err := fr.WriteMessage(1, &Data{Bytes: make([]byte, MinPayload)})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
	fr.SetLimits(MaxPayload, MaxPayload)
	if err := fr.WriteMessage(1, &Data{Bytes: make([]byte, MinPayload)}); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeUnknownType(t *testing.T) {
	for _, typ := range []Type{0x00, 0x0F, 0x7F, 0x80, 0x8F, 0xFE} {
		if _, err := Decode(typ, nil); !errors.Is(err, ErrUnknownType) {
			t.Errorf("type 0x%02x: %v, want ErrUnknownType", uint8(typ), err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	seg, _ := (&InventoryPage{Segments: []Segment{sampleSegment}}).AppendPayload(nil)
	badStop := append([]byte(nil), seg...)
	badStop[2+8+8+8+8+32] = 99
	tests := []struct {
		name string
		typ  Type
		p    []byte
	}{
		{"trailing byte", TypePing, []byte{0}},
		{"short read", TypeRead, make([]byte, 19)},
		{"long read", TypeRead, make([]byte, 21)},
		{"count lies", TypeInventoryPage, []byte{0xFF, 0xFF, 0}},
		{"bad stop cause", TypeInventoryPage, badStop},
		{"bad bool", TypeInventoryPage, []byte{0, 0, 2}},
		{"invalid utf-8", TypeError, []byte{0, 1, 2, 0xC3, 0x28}},
		{"string overruns", TypeError, []byte{0, 1, 9, 'a'}},
		{"max_count zero", TypeInventoryGet, make([]byte, 10)},
		{"seq zero", TypeInventoryPage, zeroSeq(seg)},
		{"bad charge state", TypeStatus, statusWith(func(b []byte) { b[10] = 9 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.typ, tc.p); !errors.Is(err, ErrBadMessage) {
				t.Fatalf("got %v, want ErrBadMessage", err)
			}
		})
	}
}

func TestEncodeRejectsLongString(t *testing.T) {
	long := string(bytes.Repeat([]byte{'x'}, MaxString+1))
	if _, err := (&Error{Message: long}).AppendPayload(nil); !errors.Is(err, ErrFieldTooLong) {
		t.Fatalf("got %v", err)
	}
}

func zeroSeq(p []byte) []byte {
	b := append([]byte(nil), p...)
	copy(b[2:10], make([]byte, 8))
	return b
}

func statusWith(edit func([]byte)) []byte {
	b, _ := (&Status{}).AppendPayload(nil)
	edit(b)
	return b
}

// withHeader returns a wire PING frame whose header was edited, CRC fixed.
func withHeader(t testing.TB, edit func([]byte)) []byte {
	plain := AppendFrame(nil, Header{Version: 1, Type: TypePing, ReqID: 99}, nil)
	edit(plain)
	return append(AppendCOBS(nil, fixCRC(plain)), 0)
}

// fixCRC recomputes the CRC of an unencoded frame after an edit, keeping
// every edited header byte.
func fixCRC(plain []byte) []byte {
	body := plain[:len(plain)-CRCSize]
	out := append([]byte(nil), body...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(body, castagnoli))
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func equalIDs(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
