package device

import (
	"errors"
	"io"
	"sort"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// handle answers one valid frame, enforcing the state machine of §13.
func (s *session) handle(f docklink.Frame) docklink.Message {
	if !f.Type.Known() || f.Type.IsResponse() {
		return refuse(docklink.CodeUnknownType, "type 0x%02X is not a request", uint8(f.Type))
	}
	req, err := docklink.Decode(f.Type, f.Payload)
	if err != nil {
		return refuse(docklink.CodeBadMessage, "%v", err)
	}
	switch m := req.(type) {
	case *docklink.Ping:
		return &docklink.Pong{}
	case *docklink.Hello:
		return s.hello(m)
	}
	switch s.state {
	case stateConnected:
		return refuse(docklink.CodeHelloRequired, "%s before HELLO", f.Type)
	case stateNegotiated:
		if m, ok := req.(*docklink.AuthChallenge); ok {
			return s.auth(m)
		}
		return refuse(docklink.CodeAuthRequired, "%s before AUTH_CHALLENGE", f.Type)
	}
	switch m := req.(type) {
	case *docklink.AuthChallenge:
		return s.auth(m)
	case *docklink.StatusGet:
		st := s.b.Status()
		return &st
	case *docklink.ClockGet:
		return &docklink.Clock{Time: s.b.Clock()}
	case *docklink.ClockSet:
		return s.clockSet(m)
	case *docklink.InventoryGet:
		return s.inventory(m)
	case *docklink.EventsGet:
		return s.events(m)
	case *docklink.Read:
		return s.read(m)
	case *docklink.Release:
		return s.release(m)
	case *docklink.FwOffer:
		return s.fwOffer(m)
	case *docklink.FwWrite:
		return s.fwWrite(m)
	case *docklink.FwCommit:
		return s.fwCommit(m)
	case *docklink.FwStatusGet:
		return s.fwStatus()
	}
	return refuse(docklink.CodeInternal, "no handler for %s", f.Type)
}

// hello negotiates the version and limits (§5); it restarts the session.
func (s *session) hello(m *docklink.Hello) docklink.Message {
	s.state = stateConnected
	s.closeOpen()
	if m.MinVersion > docklink.MaxVersion || m.MaxVersion < docklink.MinVersion || m.MinVersion > m.MaxVersion {
		return refuse(docklink.CodeBadVersion, "dock speaks %d–%d, device %d–%d", m.MinVersion, m.MaxVersion, docklink.MinVersion, docklink.MaxVersion)
	}
	if m.MaxPayload < docklink.MinPayload {
		return refuse(docklink.CodeBadMessage, "max_payload %d below %d", m.MaxPayload, docklink.MinPayload)
	}
	s.fr.SetLimits(int(s.o.MaxPayload), int(m.MaxPayload))
	_, send := s.fr.Limits()
	s.maxRead = min(s.o.MaxRead, uint32(send-docklink.DataHeaderSize))
	if cap(s.buf) < int(s.maxRead) {
		s.buf = make([]byte, s.maxRead)
	}
	s.caps = s.o.Capabilities & docklink.CapAll
	if _, ok := s.b.(Firmware); !ok {
		s.caps &^= docklink.CapFirmware
	}
	s.fw = fwSession{}
	s.state = stateNegotiated
	return &docklink.HelloAck{
		Version:        docklink.Version1,
		Capabilities:   s.caps,
		MaxPayload:     s.o.MaxPayload,
		MaxRead:        s.maxRead,
		MaxOutstanding: s.o.MaxOutstanding,
		Info:           s.b.Info(),
	}
}

// auth signs the §6.2 message.
func (s *session) auth(m *docklink.AuthChallenge) docklink.Message {
	sig, err := s.b.Sign(docklink.AuthMessage(m.Nonce, s.b.Info().Serial))
	if err != nil || len(sig) != 64 {
		return refuse(docklink.CodeInternal, "sign: %v (%d bytes)", err, len(sig))
	}
	var r docklink.AuthResponse
	copy(r.Signature[:], sig)
	s.state = stateAuthenticated
	s.stats.AuthServed.Add(1)
	return &r
}

func (s *session) clockSet(m *docklink.ClockSet) docklink.Message {
	if !s.caps.Has(docklink.CapClockSet) {
		return refuse(docklink.CodeUnsupported, "clock set not offered")
	}
	if m.Time.IsZero() {
		return refuse(docklink.CodeBadClock, "time 0")
	}
	prev := s.b.Clock()
	if err := s.b.SetClock(m.Time); err != nil {
		if errors.Is(err, ErrBadClock) {
			return refuse(docklink.CodeBadClock, "%v", err)
		}
		return refuse(docklink.CodeInternal, "set clock: %v", err)
	}
	return &docklink.ClockSetAck{Previous: prev, Now: s.b.Clock()}
}

// pageRoom is the payload left for entries: the limit less count and more.
func (s *session) pageRoom() int {
	_, send := s.fr.Limits()
	return send - 3
}

// inventory answers one page (§9.1), filled up to the dock's MaxPayload.
func (s *session) inventory(m *docklink.InventoryGet) docklink.Message {
	segs := s.b.Segments()
	i := sort.Search(len(segs), func(i int) bool { return segs[i].Seq > m.AfterSeq })
	page := &docklink.InventoryPage{}
	room := s.pageRoom()
	for ; i < len(segs) && len(page.Segments) < int(m.MaxCount); i++ {
		n := segs[i].EncodedSize()
		if n > room {
			break
		}
		room -= n
		page.Segments = append(page.Segments, segs[i])
	}
	page.More = i < len(segs)
	return page
}

// events answers one page of the event log (§10.1).
func (s *session) events(m *docklink.EventsGet) docklink.Message {
	if !s.caps.Has(docklink.CapEvents) {
		return refuse(docklink.CodeUnsupported, "event log not offered")
	}
	evs := s.b.Events()
	i := sort.Search(len(evs), func(i int) bool { return evs[i].Index > m.AfterIndex })
	page := &docklink.EventsPage{}
	room := s.pageRoom()
	for ; i < len(evs) && len(page.Events) < int(m.MaxCount); i++ {
		n := evs[i].EncodedSize()
		if n > room {
			break
		}
		room -= n
		page.Events = append(page.Events, evs[i])
	}
	page.More = i < len(evs)
	return page
}

// lookup finds a held segment by seq.
func (s *session) lookup(seq uint64) (docklink.Segment, bool) {
	segs := s.b.Segments()
	i := sort.Search(len(segs), func(i int) bool { return segs[i].Seq >= seq })
	if i < len(segs) && segs[i].Seq == seq {
		return segs[i], true
	}
	return docklink.Segment{}, false
}

// read serves one READ (§11.1–§11.2).
func (s *session) read(m *docklink.Read) docklink.Message {
	if m.Length > s.maxRead {
		return refuse(docklink.CodeOutOfRange, "length %d above max_read %d", m.Length, s.maxRead)
	}
	if s.open.r == nil || s.open.seq != m.Seq {
		s.closeOpen()
		seg, ok := s.lookup(m.Seq)
		if !ok {
			return refuse(docklink.CodeUnknownSegment, "seq %d not held", m.Seq)
		}
		r, err := s.b.OpenSegment(m.Seq)
		if err != nil {
			if errors.Is(err, ErrUnknownSegment) {
				return refuse(docklink.CodeUnknownSegment, "seq %d: %v", m.Seq, err)
			}
			return refuse(docklink.CodeStorage, "open seq %d: %v", m.Seq, err)
		}
		s.open.seq, s.open.size, s.open.r = m.Seq, seg.Size, r
	}
	if m.Offset > s.open.size {
		return refuse(docklink.CodeOutOfRange, "offset %d beyond size %d", m.Offset, s.open.size)
	}
	n := min(uint64(m.Length), s.open.size-m.Offset)
	buf := s.buf[:n]
	got, err := s.open.r.ReadAt(buf, int64(m.Offset))
	if got < len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		s.closeOpen()
		return refuse(docklink.CodeStorage, "read seq %d at %d: %v", m.Seq, m.Offset, err)
	}
	s.stats.BytesRead.Add(n)
	return &docklink.Data{Seq: m.Seq, Offset: m.Offset, Bytes: buf}
}

// release frees a segment only when seq is held and the hash matches
// (§11.4), checked here and again by the Backend.
func (s *session) release(m *docklink.Release) docklink.Message {
	if !s.caps.Has(docklink.CapRelease) {
		return refuse(docklink.CodeUnsupported, "release not offered")
	}
	seg, ok := s.lookup(m.Seq)
	if !ok {
		return refuse(docklink.CodeUnknownSegment, "seq %d not held", m.Seq)
	}
	if seg.SHA256 != m.SHA256 {
		return refuse(docklink.CodeHashMismatch, "seq %d: hash differs from the segment's", m.Seq)
	}
	if s.open.seq == m.Seq {
		s.closeOpen()
	}
	if err := s.b.Release(m.Seq, m.SHA256); err != nil {
		switch {
		case errors.Is(err, ErrHashMismatch):
			return refuse(docklink.CodeHashMismatch, "seq %d: %v", m.Seq, err)
		case errors.Is(err, ErrUnknownSegment):
			return refuse(docklink.CodeUnknownSegment, "seq %d: %v", m.Seq, err)
		}
		return refuse(docklink.CodeStorage, "release seq %d: %v", m.Seq, err)
	}
	s.stats.Released.Add(1)
	return &docklink.ReleaseAck{Seq: m.Seq}
}
