package docklink

import "time"

// Media describes a segment's encoding (§9.4). Empty strings and zeros mean
// "not stated".
type Media struct {
	Container       string // e.g. "mp4"
	VideoCodec      string // e.g. "h264"; "" if audio only
	Width, Height   uint16 // pixels
	FrameRateMilli  uint32 // frames per 1000 s (29.97 fps = 29970)
	AudioCodec      string // e.g. "aac"; "" if no audio
	AudioSampleRate uint32 // Hz
	AudioChannels   uint8
}

// Segment is one closed recording held by the device (§9.3).
type Segment struct {
	Seq       uint64    // per-device sequence number: starts at 1, +1 per segment, never reused (§9.2)
	Start     time.Time // device clock at the first frame (time64)
	End       time.Time // device clock at the last frame (time64)
	Size      uint64    // bytes
	SHA256    [32]byte  // SHA-256 of all Size bytes, computed by the recorder when it closed the segment
	StopCause StopCause
	Officer   string // officer assigned when recorded
	CaseTag   string // case number or tag entered on the device, "" if none
	Media     Media
}

// InventoryGet asks for a page of segments (§9.1).
type InventoryGet struct {
	AfterSeq uint64 // return segments with Seq > AfterSeq; 0 for the first page
	MaxCount uint16 // at most this many segments (1–65535)
}

// InventoryPage answers InventoryGet (§9.1).
type InventoryPage struct {
	Segments []Segment // strictly ascending Seq, all > AfterSeq
	More     bool      // more segments exist after the last one in this page
}

func (*InventoryGet) Type() Type  { return TypeInventoryGet }
func (*InventoryPage) Type() Type { return TypeInventoryPage }

// AppendPayload encodes §9.1: after_seq u64, max_count u16.
func (m *InventoryGet) AppendPayload(b []byte) ([]byte, error) {
	return appendU16(appendU64(b, m.AfterSeq), m.MaxCount), nil
}

// DecodePayload decodes §9.1.
func (m *InventoryGet) DecodePayload(p []byte) error {
	d := decoder{p: p}
	m.AfterSeq = d.u64()
	m.MaxCount = d.u16()
	if d.err == nil && m.MaxCount == 0 {
		d.fail("max_count 0")
	}
	return d.finish()
}

// minSegmentSize is the smallest encoded Segment (all strings empty).
const minSegmentSize = 8 + 8 + 8 + 8 + 32 + 1 + 1 + 1 + (1 + 1 + 2 + 2 + 4 + 1 + 4 + 1)

// AppendPayload encodes §9.1: count u16, segments, more u8.
func (m *InventoryPage) AppendPayload(b []byte) ([]byte, error) {
	if len(m.Segments) > 0xFFFF {
		return b, ErrFieldTooLong
	}
	b = appendU16(b, uint16(len(m.Segments)))
	var err error
	for i := range m.Segments {
		if b, err = m.Segments[i].append(b); err != nil {
			return b, err
		}
	}
	return appendU8(b, boolByte(m.More)), nil
}

// DecodePayload decodes §9.1.
func (m *InventoryPage) DecodePayload(p []byte) error {
	d := decoder{p: p}
	n := int(d.u16())
	if n > len(d.p)/minSegmentSize {
		d.fail("segment count %d does not fit %d bytes", n, len(d.p))
		n = 0
	}
	m.Segments = nil
	if n > 0 {
		m.Segments = make([]Segment, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		m.Segments[i].decode(&d)
	}
	m.More = d.boolean()
	return d.finish()
}

// §9.3: seq u64, start time64, end time64, size u64, sha256 [32],
// stop_cause u8, officer str8, case_tag str8, media (§9.4).
func (s *Segment) append(b []byte) ([]byte, error) {
	b = appendU64(b, s.Seq)
	b = appendTime(b, s.Start)
	b = appendTime(b, s.End)
	b = appendU64(b, s.Size)
	b = append(b, s.SHA256[:]...)
	b = appendU8(b, uint8(s.StopCause))
	b, err := appendStrs(b, s.Officer, s.CaseTag)
	if err != nil {
		return b, err
	}
	md := &s.Media
	if b, err = appendStrs(b, md.Container, md.VideoCodec); err != nil {
		return b, err
	}
	b = appendU16(b, md.Width)
	b = appendU16(b, md.Height)
	b = appendU32(b, md.FrameRateMilli)
	if b, err = appendStr(b, md.AudioCodec); err != nil {
		return b, err
	}
	b = appendU32(b, md.AudioSampleRate)
	return appendU8(b, md.AudioChannels), nil
}

func (s *Segment) decode(d *decoder) {
	s.Seq = d.u64()
	s.Start = d.time()
	s.End = d.time()
	s.Size = d.u64()
	s.SHA256 = d.bytes32()
	s.StopCause = StopCause(d.u8())
	s.Officer = d.str()
	s.CaseTag = d.str()
	md := &s.Media
	md.Container = d.str()
	md.VideoCodec = d.str()
	md.Width = d.u16()
	md.Height = d.u16()
	md.FrameRateMilli = d.u32()
	md.AudioCodec = d.str()
	md.AudioSampleRate = d.u32()
	md.AudioChannels = d.u8()
	if d.err == nil && !s.StopCause.Valid() {
		d.fail("stop cause %d", s.StopCause)
	}
	if d.err == nil && s.Seq == 0 {
		d.fail("segment seq 0")
	}
}

// EncodedSize returns the bytes s takes in an INVENTORY_PAGE (§9.3), so a
// device can fill a page up to the dock's MaxPayload.
func (s *Segment) EncodedSize() int {
	md := &s.Media
	return minSegmentSize + len(s.Officer) + len(s.CaseTag) + len(md.Container) + len(md.VideoCodec) + len(md.AudioCodec)
}

func boolByte(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// boolean reads a u8 that must be 0 or 1 (§2.2).
func (d *decoder) boolean() bool {
	v := d.u8()
	if v > 1 {
		d.fail("boolean %d", v)
	}
	return v == 1
}
