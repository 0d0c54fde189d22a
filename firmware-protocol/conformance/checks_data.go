package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

func checkAuth(ctx context.Context, e *env) (string, error) {
	c, done, err := e.session(ctx, false)
	if err != nil {
		return "", err
	}
	defer done()
	how := "verified with the enrolled key"
	if e.o.Keys == nil {
		how = "verified with the key announced in HELLO_ACK (no enrolled keys given: enrolment not checked)"
	}
	if _, err := c.Authenticate(ctx, e.keys()); err != nil {
		return "", err
	}
	// A second challenge must produce a signature over the new nonce too.
	if _, err := c.Authenticate(ctx, e.keys()); err != nil {
		return "second challenge", err
	}
	return how, nil
}

func checkInventory(ctx context.Context, e *env) (string, error) {
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	segs, err := c.Inventory(ctx)
	if err != nil {
		return "", err
	}
	e.segs = segs
	// Page one segment at a time: the same list, each page within max_count.
	var after uint64
	var byOne []uint64
	for range len(segs) + 2 {
		m, err := c.Do(ctx, &docklink.InventoryGet{AfterSeq: after, MaxCount: 1})
		if err != nil {
			return "paging by 1", err
		}
		page, ok := m.(*docklink.InventoryPage)
		if !ok {
			return "", fmt.Errorf("INVENTORY_GET answered with %s", m.Type())
		}
		if len(page.Segments) > 1 {
			return "paging by 1", fmt.Errorf("page of %d segments for max_count 1", len(page.Segments))
		}
		if len(page.Segments) == 0 && page.More {
			return "paging by 1", errors.New("empty page with more set")
		}
		for _, s := range page.Segments {
			if s.Seq <= after {
				return "paging by 1", fmt.Errorf("seq %d after %d", s.Seq, after)
			}
			after = s.Seq
			byOne = append(byOne, s.Seq)
		}
		if !page.More {
			break
		}
	}
	var seqs []uint64
	for _, s := range segs {
		seqs = append(seqs, s.Seq)
	}
	if !slices.Equal(seqs, byOne) {
		return "", fmt.Errorf("paging by 1 gave seq %v, one page gave %v", byOne, seqs)
	}
	if len(segs) == 0 {
		return "device holds no segments", nil
	}
	return fmt.Sprintf("%d segments, seq %d..%d%s", len(segs), segs[0].Seq, segs[len(segs)-1].Seq, holes(seqs)), nil
}

// holes describes gaps in a seq list (information, not a failure: released
// segments leave gaps too).
func holes(seqs []uint64) string {
	n := 0
	for i := 1; i < len(seqs); i++ {
		n += int(seqs[i] - seqs[i-1] - 1)
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d seq missing between (released or lost)", n)
}

func maxSeq(segs []docklink.Segment) uint64 {
	if len(segs) == 0 {
		return 0
	}
	return segs[len(segs)-1].Seq
}

func checkStatus(ctx context.Context, e *env) (string, error) {
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	st, err := c.Status(ctx)
	if err != nil {
		return "", err
	}
	e.status = &st
	b, s := st.Battery, st.Storage
	detail := fmt.Sprintf("battery %d mV %d%% health %d%% %d cycles %s; storage %d/%d bytes free, health %d%%; last_seq %d",
		b.MilliVolts, b.Percent, b.HealthPercent, b.Cycles, b.Charge, s.FreeBytes, s.TotalBytes, s.HealthPercent, st.LastSeq)
	pct := func(v uint8) bool { return v <= 100 || v == docklink.PercentUnknown }
	switch {
	case !pct(b.Percent) || !pct(b.HealthPercent) || !pct(s.HealthPercent):
		return detail, errors.New("a percentage is above 100 and not 0xFF (unknown)")
	case s.FreeBytes > s.TotalBytes:
		return detail, errors.New("free storage above total")
	case st.LastSeq < maxSeq(e.segs):
		return detail, fmt.Errorf("last_seq %d below the held seq %d", st.LastSeq, maxSeq(e.segs))
	}
	return detail, nil
}

func checkClock(ctx context.Context, e *env) (string, error) {
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	rd, err := c.Clock(ctx)
	if err != nil {
		return "", err
	}
	if rd.Device.IsZero() {
		return "device clock not set (time64 0)", nil
	}
	return fmt.Sprintf("device clock offset %s ± %s", rd.Offset.Round(time.Millisecond), (rd.RTT / 2).Round(time.Microsecond)), nil
}

func (e *env) has(c docklink.Capability) bool { return e.ack != nil && e.ack.Capabilities.Has(c) }

func checkClockSet(ctx context.Context, e *env) (string, error) {
	if !e.has(docklink.CapClockSet) {
		return "", skip("device does not offer CLOCK_SET")
	}
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	if _, err := c.Do(ctx, &docklink.ClockSet{}); !docklink.IsCode(err, docklink.CodeBadClock) {
		return "CLOCK_SET 0", fmt.Errorf("got %v, want ERROR BAD_CLOCK", err)
	}
	if !e.o.SetClock {
		return "clock not changed (set-clock not opted in)", nil
	}
	ack, err := c.SetClock(ctx, e.now())
	if err != nil {
		return "", err
	}
	rd, err := c.Clock(ctx)
	if err != nil {
		return "", err
	}
	if rd.Offset.Abs() > time.Second+rd.RTT {
		return "", fmt.Errorf("offset %s after setting the clock", rd.Offset)
	}
	return fmt.Sprintf("clock was %s, set; offset now %s", ack.Previous.Format(time.RFC3339Nano), rd.Offset.Round(time.Millisecond)), nil
}

func checkEvents(ctx context.Context, e *env) (string, error) {
	if !e.has(docklink.CapEvents) {
		return "", skip("device does not offer EVENTS")
	}
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	evs, err := c.Events(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d events", len(evs)), nil
}

func checkHashes(ctx context.Context, e *env) (string, error) {
	if len(e.segs) == 0 {
		return "", skip("device holds no segments (or the inventory failed)")
	}
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	start := time.Now()
	var total int64
	var bad []string
	for _, s := range e.segs {
		n, err := c.CopySegment(ctx, s, 0, nil, io.Discard)
		total += n
		switch {
		case errors.Is(err, docklink.ErrHashMismatch):
			bad = append(bad, fmt.Sprintf("seq %d", s.Seq))
		case err != nil:
			return fmt.Sprintf("seq %d", s.Seq), err
		default:
			e.verified[s.Seq] = true
		}
	}
	rate := float64(total) / time.Since(start).Seconds() / 1e6
	detail := fmt.Sprintf("%d segments, %d bytes read at %.1f MB/s", len(e.segs), total, rate)
	if len(bad) > 0 {
		return detail, fmt.Errorf("sha-256 of the bytes differs from the recorded hash: %v", bad)
	}
	return detail, nil
}

// unknownSeq is a sequence number the device cannot hold.
func (e *env) unknownSeq() uint64 {
	s := maxSeq(e.segs)
	if e.status != nil {
		s = max(s, e.status.LastSeq)
	}
	return s + 1
}

func checkReadRefusals(ctx context.Context, e *env) (string, error) {
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	if _, err := c.Do(ctx, &docklink.Read{Seq: e.unknownSeq(), Length: 1}); !docklink.IsCode(err, docklink.CodeUnknownSegment) {
		return fmt.Sprintf("READ of seq %d", e.unknownSeq()), fmt.Errorf("got %v, want ERROR UNKNOWN_SEGMENT", err)
	}
	if len(e.segs) == 0 {
		return "only the unknown-seq refusal checked: no segments", nil
	}
	s := e.segs[0]
	if _, err := c.Do(ctx, &docklink.Read{Seq: s.Seq, Offset: s.Size + 1, Length: 1}); !docklink.IsCode(err, docklink.CodeOutOfRange) {
		return "READ beyond the end", fmt.Errorf("got %v, want ERROR OUT_OF_RANGE", err)
	}
	if e.ack.MaxRead < docklink.MaxPayload-docklink.DataHeaderSize {
		if _, err := c.Do(ctx, &docklink.Read{Seq: s.Seq, Length: e.ack.MaxRead + 1}); !docklink.IsCode(err, docklink.CodeOutOfRange) {
			return "READ above max_read", fmt.Errorf("got %v, want ERROR OUT_OF_RANGE", err)
		}
	}
	return "", nil
}

// smallest returns the smallest non-empty segment of at most 64 MiB.
func (e *env) smallest() (docklink.Segment, bool) {
	var best docklink.Segment
	for _, s := range e.segs {
		if s.Size > 0 && s.Size <= 64<<20 && (best.Seq == 0 || s.Size < best.Size) {
			best = s
		}
	}
	return best, best.Seq != 0
}

func checkReadOffsets(ctx context.Context, e *env) (string, error) {
	seg, ok := e.smallest()
	if !ok {
		return "", skip("no segment between 1 byte and 64 MiB")
	}
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	var full bytes.Buffer
	if _, err := c.ReadSegment(ctx, seg, 0, &full); err != nil {
		return "full read", err
	}
	all := full.Bytes()
	l := uint64(min(e.ack.MaxRead, 4096))
	for _, off := range []uint64{0, 1, seg.Size / 3, seg.Size / 2, seg.Size - 1, seg.Size} {
		m, err := c.Do(ctx, &docklink.Read{Seq: seg.Seq, Offset: off, Length: uint32(l)})
		if err != nil {
			return fmt.Sprintf("READ seq %d at %d", seg.Seq, off), err
		}
		d, ok := m.(*docklink.Data)
		want := all[off:min(off+l, seg.Size)]
		if !ok || d.Seq != seg.Seq || d.Offset != off || !bytes.Equal(d.Bytes, want) {
			return fmt.Sprintf("READ seq %d at %d", seg.Seq, off), fmt.Errorf("DATA differs from the same bytes of a full read")
		}
	}
	var tail bytes.Buffer
	if _, err := c.ReadSegment(ctx, seg, int64(seg.Size/3), &tail); err != nil || !bytes.Equal(tail.Bytes(), all[seg.Size/3:]) {
		return "windowed read from size/3", fmt.Errorf("differs from the full read (%v)", err)
	}
	return fmt.Sprintf("seq %d (%d bytes) at 6 offsets", seg.Seq, seg.Size), nil
}

// cutWriter fails once limit bytes were written: a dock losing the link.
type cutWriter struct {
	w     io.Writer
	limit int64
	n     int64
}

var errCut = errors.New("conformance: link pulled")

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.limit {
		k, _ := c.w.Write(p[:c.limit-c.n])
		c.n += int64(k)
		return k, errCut
	}
	k, err := c.w.Write(p)
	c.n += int64(k)
	return k, err
}

func checkResume(ctx context.Context, e *env) (string, error) {
	// The smallest segment that needs several READs, else the largest.
	var seg docklink.Segment
	minSize := uint64(2)
	if e.ack != nil {
		minSize = max(minSize, 3*uint64(e.ack.MaxRead))
	}
	for _, s := range e.segs {
		if s.Size >= minSize && (seg.Seq == 0 || s.Size < seg.Size) {
			seg = s
		}
	}
	if seg.Seq == 0 {
		for _, s := range e.segs {
			if s.Size > seg.Size {
				seg = s
			}
		}
	}
	if seg.Size < 2 {
		return "", skip("no segment of 2 bytes or more")
	}
	h := sha256.New()
	c1, done1, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	n, err := c1.ReadSegment(ctx, seg, 0, &cutWriter{w: h, limit: int64(seg.Size / 2)})
	done1() // close the link with READs still outstanding
	if !errors.Is(err, errCut) {
		return "first link", fmt.Errorf("read ended with %v before the cut", err)
	}
	c2, done2, err := e.session(ctx, true)
	if err != nil {
		return "second link", err
	}
	defer done2()
	n2, err := c2.CopySegment(ctx, seg, n, h, io.Discard)
	if err != nil {
		return fmt.Sprintf("resume of seq %d at %d", seg.Seq, n), err
	}
	return fmt.Sprintf("seq %d: %d bytes, link closed, resumed at %d for %d more", seg.Seq, seg.Size, n, n2), nil
}

func checkReleaseWrongHash(ctx context.Context, e *env) (string, error) {
	if !e.has(docklink.CapRelease) {
		return "", skip("device does not offer RELEASE")
	}
	if len(e.segs) == 0 {
		return "", skip("device holds no segments")
	}
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	s := e.segs[0]
	wrong := s.SHA256
	wrong[31] ^= 0x01
	if err := c.Release(ctx, s.Seq, wrong); !docklink.IsCode(err, docklink.CodeHashMismatch) {
		return fmt.Sprintf("RELEASE seq %d", s.Seq), fmt.Errorf("got %v, want ERROR HASH_MISMATCH", err)
	}
	segs, err := c.Inventory(ctx)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(segs, func(x docklink.Segment) bool { return x.Seq == s.Seq }) {
		return "", fmt.Errorf("seq %d is gone after a refused release", s.Seq)
	}
	return fmt.Sprintf("seq %d kept", s.Seq), nil
}

func checkReleaseUnknown(ctx context.Context, e *env) (string, error) {
	if !e.has(docklink.CapRelease) {
		return "", skip("device does not offer RELEASE")
	}
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	seq := e.unknownSeq()
	if err := c.Release(ctx, seq, [32]byte{}); !docklink.IsCode(err, docklink.CodeUnknownSegment) {
		return fmt.Sprintf("RELEASE seq %d", seq), fmt.Errorf("got %v, want ERROR UNKNOWN_SEGMENT", err)
	}
	return "", nil
}

func checkReleaseRight(ctx context.Context, e *env) (string, error) {
	if !e.o.Release {
		return "", skip("not opted in: it frees footage on the device")
	}
	if !e.has(docklink.CapRelease) {
		return "", skip("device does not offer RELEASE")
	}
	var seg docklink.Segment
	for _, s := range e.segs {
		if e.verified[s.Seq] {
			seg = s
			break
		}
	}
	if seg.Seq == 0 {
		return "", skip("no segment with a verified hash to release")
	}
	c, done, err := e.session(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	if err := c.Release(ctx, seg.Seq, seg.SHA256); err != nil {
		return fmt.Sprintf("RELEASE seq %d", seg.Seq), err
	}
	segs, err := c.Inventory(ctx)
	if err != nil {
		return "", err
	}
	if slices.ContainsFunc(segs, func(x docklink.Segment) bool { return x.Seq == seg.Seq }) {
		return "", fmt.Errorf("seq %d still listed after RELEASE_ACK", seg.Seq)
	}
	if _, err := c.Do(ctx, &docklink.Read{Seq: seg.Seq, Length: 1}); !docklink.IsCode(err, docklink.CodeUnknownSegment) {
		return "READ after release", fmt.Errorf("got %v, want ERROR UNKNOWN_SEGMENT", err)
	}
	e.segs = slices.DeleteFunc(e.segs, func(x docklink.Segment) bool { return x.Seq == seg.Seq })
	return fmt.Sprintf("seq %d released", seg.Seq), nil
}
