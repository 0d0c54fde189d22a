package docklink

import (
	"bytes"
	"reflect"
	"testing"
)

// fuzzDecoder checks a message decoder: no panic on any input, and every
// accepted payload round-trips decode→encode→decode to the same value.
func fuzzDecoder(f *testing.F, typ Type) {
	f.Fuzz(func(t *testing.T, p []byte) {
		m, _ := NewMessage(typ)
		if err := m.DecodePayload(p); err != nil {
			return
		}
		enc, err := m.AppendPayload(nil)
		if err != nil {
			t.Fatalf("re-encode of an accepted %s: %v", typ, err)
		}
		m2, _ := NewMessage(typ)
		if err := m2.DecodePayload(enc); err != nil {
			t.Fatalf("decode of re-encoded %s: %v", typ, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip of %s:\n%+v\n%+v", typ, m, m2)
		}
	})
}

func FuzzHello(f *testing.F)         { fuzzDecoder(f, TypeHello) }
func FuzzHelloAck(f *testing.F)      { fuzzDecoder(f, TypeHelloAck) }
func FuzzAuthChallenge(f *testing.F) { fuzzDecoder(f, TypeAuthChallenge) }
func FuzzAuthResponse(f *testing.F)  { fuzzDecoder(f, TypeAuthResponse) }
func FuzzStatusGet(f *testing.F)     { fuzzDecoder(f, TypeStatusGet) }
func FuzzStatus(f *testing.F)        { fuzzDecoder(f, TypeStatus) }
func FuzzClockGet(f *testing.F)      { fuzzDecoder(f, TypeClockGet) }
func FuzzClock(f *testing.F)         { fuzzDecoder(f, TypeClock) }
func FuzzClockSet(f *testing.F)      { fuzzDecoder(f, TypeClockSet) }
func FuzzClockSetAck(f *testing.F)   { fuzzDecoder(f, TypeClockSetAck) }
func FuzzInventoryGet(f *testing.F)  { fuzzDecoder(f, TypeInventoryGet) }
func FuzzInventoryPage(f *testing.F) { fuzzDecoder(f, TypeInventoryPage) }
func FuzzEventsGet(f *testing.F)     { fuzzDecoder(f, TypeEventsGet) }
func FuzzEventsPage(f *testing.F)    { fuzzDecoder(f, TypeEventsPage) }
func FuzzRead(f *testing.F)          { fuzzDecoder(f, TypeRead) }
func FuzzData(f *testing.F)          { fuzzDecoder(f, TypeData) }
func FuzzRelease(f *testing.F)       { fuzzDecoder(f, TypeRelease) }
func FuzzReleaseAck(f *testing.F)    { fuzzDecoder(f, TypeReleaseAck) }
func FuzzPing(f *testing.F)          { fuzzDecoder(f, TypePing) }
func FuzzPong(f *testing.F)          { fuzzDecoder(f, TypePong) }
func FuzzError(f *testing.F)         { fuzzDecoder(f, TypeError) }
func FuzzFwOffer(f *testing.F)       { fuzzDecoder(f, TypeFwOffer) }
func FuzzFwOfferAck(f *testing.F)    { fuzzDecoder(f, TypeFwOfferAck) }
func FuzzFwWrite(f *testing.F)       { fuzzDecoder(f, TypeFwWrite) }
func FuzzFwWriteAck(f *testing.F)    { fuzzDecoder(f, TypeFwWriteAck) }
func FuzzFwCommit(f *testing.F)      { fuzzDecoder(f, TypeFwCommit) }
func FuzzFwCommitAck(f *testing.F)   { fuzzDecoder(f, TypeFwCommitAck) }
func FuzzFwStatusGet(f *testing.F)   { fuzzDecoder(f, TypeFwStatusGet) }
func FuzzFwStatus(f *testing.F)      { fuzzDecoder(f, TypeFwStatus) }

// FuzzReadFrame feeds arbitrary bytes to the Framer: no panic, no
// allocation beyond the limit, and every frame it accepts re-encodes to a
// frame that decodes to the same header and payload.
func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := NewFramer(bytes.NewReader(in), nil)
		for range 64 {
			fm, err := fr.ReadFrame()
			if err != nil {
				if Recoverable(err) {
					continue
				}
				return
			}
			if len(fm.Payload) > MinPayload {
				t.Fatalf("accepted %d-byte payload above the limit", len(fm.Payload))
			}
			wire := append(AppendCOBS(nil, AppendFrame(nil, fm.Header, fm.Payload)), 0)
			fm2, err := NewFramer(bytes.NewReader(wire), nil).ReadFrame()
			if err != nil || fm2.Header != fm.Header || !bytes.Equal(fm2.Payload, fm.Payload) {
				t.Fatalf("frame round trip: %v %+v %+v", err, fm.Header, fm2.Header)
			}
		}
	})
}

// FuzzCOBS checks that decoding never panics and that decode→encode→decode
// is stable, and that encoding never emits 0x00.
func FuzzCOBS(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		enc := AppendCOBS(nil, in)
		if bytes.IndexByte(enc, 0) >= 0 || len(enc) > COBSMaxLen(len(in)) {
			t.Fatalf("bad encoding of %x: %x", in, enc)
		}
		dec, err := DecodeCOBS(nil, enc)
		if err != nil || !bytes.Equal(dec, in) {
			t.Fatalf("encode→decode of %x: %x, %v", in, dec, err)
		}
		d1, err := DecodeCOBS(nil, in)
		if err != nil {
			return
		}
		d2, err := DecodeCOBS(nil, AppendCOBS(nil, d1))
		if err != nil || !bytes.Equal(d1, d2) {
			t.Fatalf("decode→encode→decode of %x: %x %x %v", in, d1, d2, err)
		}
	})
}
