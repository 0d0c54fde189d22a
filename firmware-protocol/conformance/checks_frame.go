package conformance

import (
	"bytes"
	"context"
	"fmt"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// checks is the conformance suite, run in this order: later checks use
// what earlier ones learnt (the HELLO_ACK, the inventory, verified hashes).
var checks = []check{
	{"§5.4", "PING answered with PONG before HELLO", false, checkPingBeforeHello},
	{"§13", "requests before HELLO refused with HELLO_REQUIRED", false, checkHelloRequired},
	{"§5.1", "HELLO without a common version refused with BAD_VERSION", false, checkBadVersion},
	{"§5.2", "HELLO_ACK: version 1, limits in range, device info", false, checkHelloAck},
	{"§13", "reads, inventory and release before authentication refused with AUTH_REQUIRED", false, checkAuthRequired},
	{"§3.6", "resynchronises after garbage: BAD_FRAME answered, next frame served", false, checkGarbage},
	{"§3.4", "CRC-32C checked: bad CRC answered ERROR CRC with id 0", false, checkCRC},
	{"§3.5", "oversize frames refused with FRAME_TOO_LARGE, next frame served", false, checkOversize},
	{"§3.3", "reserved flags and unknown frame version refused with BAD_FRAME", false, checkHeaderFields},
	{"§4.1", "undefined and response types answered UNKNOWN_TYPE with the request id", false, checkUnknownType},
	{"§2.5", "malformed payloads answered BAD_MESSAGE with the request id", false, checkBadMessage},
	{"§4.3", "max_outstanding pipelined requests all answered, each with its id", false, checkPipelining},
	{"§6.2", "AUTH_RESPONSE is an Ed25519 signature of the §6.2 message", false, checkAuth},
	{"§9.1", "inventory pages: seq strictly ascending, paging by 1 equals one large page", false, checkInventory},
	{"§7.2", "STATUS fields in range, last_seq covers every held seq", false, checkStatus},
	{"§8.1", "CLOCK answered; offset to the dock clock recorded", false, checkClock},
	{"§8.2", "CLOCK_SET 0 refused with BAD_CLOCK (opt-in: set to the dock clock)", false, checkClockSet},
	{"§10.1", "event log pages: index strictly ascending", false, checkEvents},
	{"§9.3", "every segment's bytes hash to its recorded SHA-256", true, checkHashes},
	{"§11.1", "READ refusals: unknown seq, offset beyond size, length above max_read", false, checkReadRefusals},
	{"§11.2", "DATA at offsets equals the full read; tail and offset=size reads", true, checkReadOffsets},
	{"§11.5", "read resumed on a new link at the durable offset hashes correctly", true, checkResume},
	{"§11.4", "RELEASE with a wrong hash refused HASH_MISMATCH, segment kept", false, checkReleaseWrongHash},
	{"§11.4", "RELEASE of an unknown seq refused UNKNOWN_SEGMENT", false, checkReleaseUnknown},
	{"§11.4", "RELEASE with the right hash frees the segment (opt-in)", false, checkReleaseRight},
}

func checkPingBeforeHello(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	return "", r.ping(ctx)
}

func checkHelloRequired(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	for _, m := range []docklink.Message{&docklink.Read{Seq: 1, Length: 1}, &docklink.InventoryGet{MaxCount: 1},
		&docklink.Release{Seq: 1}, &docklink.StatusGet{}, &docklink.AuthChallenge{}} {
		id, err := r.send(m)
		if err != nil {
			return "", err
		}
		if err := r.expectCode(ctx, id, docklink.CodeHelloRequired); err != nil {
			return m.Type().String(), err
		}
	}
	return "", nil
}

func checkBadVersion(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	id, err := r.send(&docklink.Hello{MinVersion: 200, MaxVersion: 201, MaxPayload: docklink.MaxPayload})
	if err != nil {
		return "", err
	}
	return "", r.expectCode(ctx, id, docklink.CodeBadVersion)
}

func checkHelloAck(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	ack, err := r.hello(ctx)
	if err != nil {
		return "", err
	}
	e.ack, e.info = ack, ack.Info
	detail := fmt.Sprintf("max_payload %d, max_read %d, max_outstanding %d, caps %#x", ack.MaxPayload, ack.MaxRead, ack.MaxOutstanding, uint32(ack.Capabilities))
	switch {
	case ack.Version != 1:
		return detail, fmt.Errorf("version %d, want 1", ack.Version)
	case ack.MaxPayload < docklink.MinPayload || ack.MaxPayload > docklink.MaxPayload:
		return detail, fmt.Errorf("max_payload %d outside %d..%d", ack.MaxPayload, docklink.MinPayload, docklink.MaxPayload)
	case ack.MaxRead == 0 || uint64(ack.MaxRead)+docklink.DataHeaderSize > docklink.MaxPayload:
		return detail, fmt.Errorf("max_read %d does not fit the dock's max_payload", ack.MaxRead)
	case ack.MaxOutstanding == 0:
		return detail, fmt.Errorf("max_outstanding 0")
	case ack.Info.Serial == "":
		return detail, fmt.Errorf("empty serial")
	case ack.Info.PublicKey == [32]byte{}:
		return detail, fmt.Errorf("all-zero public key")
	}
	return detail, nil
}

func checkAuthRequired(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	if _, err := r.hello(ctx); err != nil {
		return "", err
	}
	for _, m := range []docklink.Message{&docklink.Read{Seq: 1, Length: 1}, &docklink.InventoryGet{MaxCount: 1},
		&docklink.Release{Seq: 1}, &docklink.StatusGet{}, &docklink.ClockSet{Time: e.now()}, &docklink.EventsGet{MaxCount: 1}} {
		id, err := r.send(m)
		if err != nil {
			return "", err
		}
		if err := r.expectCode(ctx, id, docklink.CodeAuthRequired); err != nil {
			return m.Type().String(), err
		}
	}
	return "", nil
}

func checkGarbage(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	// 0xFF announces a 254-byte run the block does not have: never valid COBS.
	if err := r.fr.WriteRaw([]byte("\xff\x13\x37 line noise \x01\x02\x00")); err != nil {
		return "", err
	}
	if err := r.expectCode(ctx, 0, docklink.CodeBadFrame); err != nil {
		return "garbage", err
	}
	return "", r.ping(ctx)
}

func checkCRC(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	plain := docklink.AppendFrame(nil, docklink.Header{Version: docklink.FrameVersion, Type: docklink.TypePing, ReqID: r.id()}, nil)
	plain[len(plain)-1] ^= 0x5A
	if err := r.fr.WriteRaw(append(docklink.AppendCOBS(nil, plain), 0)); err != nil {
		return "", err
	}
	if err := r.expectCode(ctx, 0, docklink.CodeCRC); err != nil {
		return "PING with a bad CRC", err
	}
	return "", r.ping(ctx)
}

func checkOversize(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	// Above the pre-HELLO limit of 4096 (§3.5), with a good CRC.
	id := r.id()
	if err := r.fr.WriteFrame(docklink.Header{Version: docklink.FrameVersion, Type: docklink.TypeHello, ReqID: id}, make([]byte, docklink.MinPayload+1)); err != nil {
		return "", err
	}
	f, err := r.recv(ctx)
	if err != nil {
		return "4097-byte payload before HELLO", err
	}
	if em, ok := f.msg.(*docklink.Error); !ok || em.Code != docklink.CodeFrameTooLarge || (f.h.ReqID != 0 && f.h.ReqID != id) {
		return "4097-byte payload before HELLO", fmt.Errorf("got %s, want ERROR FRAME_TOO_LARGE", describe(f))
	}
	if err := r.ping(ctx); err != nil {
		return "", err
	}
	// 64 KiB without a delimiter, 16 times the pre-HELLO limit: the device
	// must drop it as it streams in (§3.5), then carry on.
	huge := bytes.Repeat([]byte{0x55}, 64<<10)
	if err := r.fr.WriteRaw(append(huge, 0)); err != nil {
		return "", err
	}
	if err := r.expectCode(ctx, 0, docklink.CodeFrameTooLarge); err != nil {
		return "64 KiB without a delimiter", err
	}
	return "", r.ping(ctx)
}

func checkHeaderFields(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	for _, h := range []docklink.Header{
		{Version: docklink.FrameVersion, Type: docklink.TypePing, Flags: 0x0001},
		{Version: 2, Type: docklink.TypePing},
	} {
		h.ReqID = r.id()
		if err := r.fr.WriteFrame(h, nil); err != nil {
			return "", err
		}
		f, err := r.recv(ctx)
		if err != nil {
			return fmt.Sprintf("version %d flags %#x", h.Version, h.Flags), err
		}
		if em, ok := f.msg.(*docklink.Error); !ok || em.Code != docklink.CodeBadFrame {
			return fmt.Sprintf("version %d flags %#x", h.Version, h.Flags), fmt.Errorf("got %s, want ERROR BAD_FRAME", describe(f))
		}
	}
	return "", r.ping(ctx)
}

func checkUnknownType(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	for _, t := range []docklink.Type{0x42, 0x7F, docklink.TypeHelloAck, docklink.TypeData} {
		id := r.id()
		if err := r.fr.WriteFrame(docklink.Header{Version: docklink.FrameVersion, Type: t, ReqID: id}, nil); err != nil {
			return "", err
		}
		if err := r.expectCode(ctx, id, docklink.CodeUnknownType); err != nil {
			return fmt.Sprintf("type 0x%02X", uint8(t)), err
		}
	}
	return "", r.ping(ctx)
}

func checkBadMessage(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	for _, tc := range []struct {
		t docklink.Type
		p []byte
	}{
		{docklink.TypeHello, []byte{1}},      // truncated
		{docklink.TypePing, []byte{0}},       // trailing byte
		{docklink.TypeHello, helloBadUTF8()}, // invalid UTF-8 in dock_id
	} {
		id := r.id()
		if err := r.fr.WriteFrame(docklink.Header{Version: docklink.FrameVersion, Type: tc.t, ReqID: id}, tc.p); err != nil {
			return "", err
		}
		if err := r.expectCode(ctx, id, docklink.CodeBadMessage); err != nil {
			return fmt.Sprintf("%s payload %x", tc.t, tc.p), err
		}
	}
	return "", r.ping(ctx)
}

func helloBadUTF8() []byte {
	p, _ := (&docklink.Hello{MinVersion: 1, MaxVersion: 1, MaxPayload: docklink.MaxPayload, DockID: "ab"}).AppendPayload(nil)
	p[len(p)-1] = 0xC3 // a lead byte with no continuation
	return p
}

func checkPipelining(ctx context.Context, e *env) (string, error) {
	r, err := e.raw(ctx)
	if err != nil {
		return "", err
	}
	defer r.close()
	ack, err := r.hello(ctx)
	if err != nil {
		return "", err
	}
	n := min(int(ack.MaxOutstanding), 256)
	want := map[uint32]bool{}
	for range n {
		id, err := r.send(&docklink.Ping{})
		if err != nil {
			return "", err
		}
		want[id] = true
	}
	for range n {
		f, err := r.recv(ctx)
		if err != nil {
			return fmt.Sprintf("%d of %d answered", n-len(want), n), err
		}
		if f.h.Type != docklink.TypePong || !want[f.h.ReqID] {
			return "", fmt.Errorf("got %s, want PONG for an outstanding id", describe(f))
		}
		delete(want, f.h.ReqID)
	}
	return fmt.Sprintf("%d outstanding PINGs", n), nil
}
