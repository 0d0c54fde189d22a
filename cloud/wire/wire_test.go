package wire

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

var t0 = time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)

func mustEnvelope(t *testing.T, typ string, body any) []byte {
	t.Helper()
	e, err := NewEnvelope("m-1", "dock-7", t0, typ, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRoundTrip(t *testing.T) {
	m := &SegmentManifest{Serial: "REC-1", Seq: 42, Start: t0, End: t0.Add(time.Minute), Size: 10,
		SHA256: strings.Repeat("ab", 32), StopCause: StopLowBattery, State: SegBuffered}
	e, err := DecodeEnvelope(mustEnvelope(t, TypeSegmentManifest, m))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeBody(e)
	if err != nil {
		t.Fatal(err)
	}
	got := b.(*SegmentManifest)
	if got.Seq != 42 || got.StopCause != StopLowBattery || !got.End.Equal(m.End) {
		t.Fatalf("round trip: %+v", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := string(mustEnvelope(t, TypeAck, &Ack{IDs: []string{"a"}}))
	tests := []struct {
		name    string
		payload string
		want    error
	}{
		{"not json", "{", ErrMalformed},
		{"too large", "{" + strings.Repeat(" ", MaxPayload) + "}", ErrTooLarge},
		{"version", strings.Replace(good, `"v":1`, `"v":2`, 1), ErrVersion},
		{"unknown type", strings.Replace(good, `"type":"ack"`, `"type":"nope"`, 1), ErrUnknownType},
		{"bad dock", strings.Replace(good, `"dock":"dock-7"`, `"dock":"../x"`, 1), ErrMalformed},
		{"no id", strings.Replace(good, `"id":"m-1"`, `"id":""`, 1), ErrMalformed},
		{"null body", strings.Replace(good, `"body":{"ids":["a"]}`, `"body":null`, 1), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeEnvelope([]byte(tt.payload)); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeBodyRejects(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		body any
	}{
		{"unknown field", TypeAck, map[string]any{"ids": []string{"a"}, "extra": 1}},
		{"empty ack", TypeAck, &Ack{}},
		{"bad slot state", TypeSlotState, &SlotState{Slot: 1, State: "flying"}},
		{"bad hash", TypeSegmentManifest, &SegmentManifest{Serial: "R", SHA256: "xyz", StopCause: StopUser, State: SegBuffered}},
		{"end before start", TypeSegmentManifest, &SegmentManifest{Serial: "R", SHA256: strings.Repeat("0", 64),
			Start: t0, End: t0.Add(-time.Second), StopCause: StopUser, State: SegBuffered}},
		{"bad command", TypeCommand, &Command{Action: "rm -rf"}},
		{"battery range", TypeDeviceHealth, &DeviceHealth{Serial: "R", DockedAt: t0, DockClock: t0, Battery: Battery{Percent: 101}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := DecodeEnvelope(mustEnvelope(t, tt.typ, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeBody(e); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestParseDockTopic(t *testing.T) {
	p, err := ParseDockTopic(SlotTopic("dock-1", 3))
	if err != nil || p.Dock != "dock-1" || p.Kind != KindSlots || p.Sub != "3" {
		t.Fatalf("got %+v, %v", p, err)
	}
	for _, bad := range []string{"berth/v2/docks/a/state", "berth/v1/docks/a", "berth/v1/docks/a/state/x",
		"berth/v1/docks/a/slots", "berth/v1/docks/../state", "berth/v1/docks/a/weird"} {
		if _, err := ParseDockTopic(bad); !errors.Is(err, ErrBadTopic) {
			t.Errorf("%q: err = %v, want ErrBadTopic", bad, err)
		}
	}
}

func TestAuditChain(t *testing.T) {
	var recs []*AuditRecord
	var prev *AuditRecord
	for i, a := range []string{AuditStarted, AuditDocked, AuditCopied} {
		r := &AuditRecord{Time: t0.Add(time.Duration(i) * time.Second), Action: a, Slot: i, Serial: "R1"}
		if err := r.Seal("dock-1", prev); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
		prev = r
	}
	for i, r := range recs {
		var p *AuditRecord
		if i > 0 {
			p = recs[i-1]
		}
		if err := r.VerifyLink("dock-1", p); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	// Another dock's chain, a tampered detail, and a skipped record all fail.
	if err := recs[0].VerifyLink("dock-2", nil); !errors.Is(err, ErrChainBroken) {
		t.Errorf("other dock: %v", err)
	}
	recs[1].Detail = "edited"
	if err := recs[1].VerifyLink("dock-1", recs[0]); !errors.Is(err, ErrChainBroken) {
		t.Errorf("tampered: %v", err)
	}
	if err := recs[2].VerifyLink("dock-1", recs[0]); !errors.Is(err, ErrChainBroken) {
		t.Errorf("skipped: %v", err)
	}
}

func TestReceipt(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	sha := strings.Repeat("cd", 32)
	r := Receipt{ObjectID: "sha256-" + sha, Device: "R1", Seq: 7, SHA256: sha, Size: 99, StoredAt: t0}
	r.Sign("c1", key)
	if err := r.Verify(pub, "R1", 7, sha, 99); err != nil {
		t.Fatal(err)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	cases := map[string]error{
		"other key":  r.Verify(otherPub, "R1", 7, sha, 99),
		"other seq":  r.Verify(pub, "R1", 8, sha, 99),
		"other hash": r.Verify(pub, "R1", 7, strings.Repeat("00", 32), 99),
		"other size": r.Verify(pub, "R1", 7, sha, 98),
	}
	for name, err := range cases {
		if !errors.Is(err, ErrReceipt) {
			t.Errorf("%s: err = %v, want ErrReceipt", name, err)
		}
	}
	r.Size = 100 // tampered after signing
	if err := r.Verify(pub, "R1", 7, sha, 100); !errors.Is(err, ErrReceipt) {
		t.Errorf("tampered: %v", err)
	}
}

// proven returns an "authenticated" record of dock's chain carrying the
// proof a recorder with key priv gives when challenged by dock at (DockLink
// §6.5), sealed after prev.
func proven(t *testing.T, dock, serial string, priv ed25519.PrivateKey, at time.Time, prev *AuditRecord) *AuditRecord {
	t.Helper()
	p := docklink.AuthProof{Dock: dock, At: at, Serial: serial}
	for i := range p.Salt {
		p.Salt[i] = byte(i * 7)
	}
	n := p.Nonce()
	p.Signature = [64]byte(ed25519.Sign(priv, docklink.AuthMessage(n, serial)))
	r := &AuditRecord{Time: at.Add(time.Millisecond), Action: AuditAuthenticated, Slot: 1, Serial: serial, Detail: "firmware 2.1.0",
		Proof: ProofOf(p)}
	if err := r.Seal(dock, prev); err != nil {
		t.Fatal(err)
	}
	return r
}

// An authenticated record's proof verifies with the recorder's key for
// the dock whose chain holds it, and only then; the chain hash covers it.
func TestAuditProof(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	pub := priv.Public().(ed25519.PublicKey)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	r := proven(t, "dock-1", "R1", priv, t0, nil)
	if err := r.VerifyProof("dock-1", pub); err != nil {
		t.Fatalf("genuine proof: %v", err)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	// It survives the wire: at keeps its nanoseconds.
	r = proven(t, "dock-1", "R1", priv, t0.Add(123456789), nil)
	b, err := DecodeBody(mustDecode(t, mustEnvelope(t, TypeAuditRecord, r)))
	if err != nil {
		t.Fatal(err)
	}
	back := b.(*AuditRecord)
	if err := back.VerifyProof("dock-1", pub); err != nil || back.VerifyLink("dock-1", nil) != nil {
		t.Fatalf("after the wire: %v, link %v", err, back.VerifyLink("dock-1", nil))
	}
	edit := func(f func(r *AuditRecord)) *AuditRecord {
		c := *r
		p := *r.Proof
		c.Proof = &p
		f(&c)
		return &c
	}
	for _, tc := range []struct {
		name string
		dock string
		pub  ed25519.PublicKey
		r    *AuditRecord
		want error
	}{
		{"no proof", "dock-1", pub, edit(func(r *AuditRecord) { r.Proof = nil }), ErrNoProof},
		{"another dock's record", "dock-2", pub, r, ErrBadProof},
		{"another recorder's key", "dock-1", otherPub, r, ErrBadProof},
		{"another serial", "dock-1", pub, edit(func(r *AuditRecord) { r.Serial = "R2" }), ErrBadProof},
		{"another time", "dock-1", pub, edit(func(r *AuditRecord) { r.Proof.At = r.Proof.At.Add(time.Nanosecond) }), ErrBadProof},
		{"another salt", "dock-1", pub, edit(func(r *AuditRecord) { r.Proof.Salt = "AAAAAAAAAAAAAAAAAAAAAA==" }), ErrBadProof},
		{"salt not base64", "dock-1", pub, edit(func(r *AuditRecord) { r.Proof.Salt = "not base64!" }), ErrBadProof},
		{"short signature", "dock-1", pub, edit(func(r *AuditRecord) { r.Proof.Signature = r.Proof.Signature[:40] }), ErrBadProof},
	} {
		if err := tc.r.VerifyProof(tc.dock, tc.pub); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// The chain hash covers the proof: one stripped or edited breaks it.
	for name, c := range map[string]*AuditRecord{
		"stripped": edit(func(r *AuditRecord) { r.Proof = nil }),
		"salt":     edit(func(r *AuditRecord) { r.Proof.Salt = "AAAAAAAAAAAAAAAAAAAAAA==" }),
		"time":     edit(func(r *AuditRecord) { r.Proof.At = r.Proof.At.Add(time.Second) }),
		"sig":      edit(func(r *AuditRecord) { r.Proof.Signature = "x" + r.Proof.Signature[1:] }),
	} {
		if err := c.VerifyLink("dock-1", nil); !errors.Is(err, ErrChainBroken) {
			t.Errorf("proof %s: link %v", name, err)
		}
	}
	// A record without a proof hashes as it did before proofs existed (the
	// value computed from the doc comment's formula in Python).
	plain := &AuditRecord{Time: t0, Action: AuditDocked, Slot: 2, Serial: "R1", Seq: 3, Detail: "d"}
	if err := plain.Seal("dock-1", nil); err != nil {
		t.Fatal(err)
	}
	if plain.Hash != "908c34cba6909d340288c6e79be5e5ae05b70902c5268a37a73efb5a4c47cfa5" {
		t.Errorf("proof-less hash %s", plain.Hash)
	}
	bad := edit(func(r *AuditRecord) { r.Proof.At = time.Time{} })
	if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero proof time: %v", err)
	}
	bad = edit(func(r *AuditRecord) { r.Proof.Signature = strings.Repeat("A", MaxProofSig+1) })
	if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("long proof sig: %v", err)
	}
}

func mustDecode(t *testing.T, b []byte) Envelope {
	t.Helper()
	e, err := DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":"x","dock":"d","time":"2026-01-01T00:00:00Z","type":"ack","body":{"ids":["a"]}}`))
	f.Add([]byte(`{"v":1,"id":"x","dock":"d","time":"2026-01-01T00:00:00Z","type":"slot.state","body":{"slot":1,"state":"copying"}}`))
	f.Add([]byte(`{"v":1,"id":"x","dock":"d","time":"2026-01-01T00:00:00Z","type":"recorder.events","body":{"serial":"R","docked_at":"2026-01-01T00:00:00Z","events":[{"index":1,"time":"2026-01-01T00:00:00Z","kind":"fault","seq":3,"detail":"encoder stalled"}]}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1,"id":"x","dock":"d","time":"2026-01-01T00:00:00Z","type":"audit.record","body":{"index":0,"time":"2026-01-01T00:00:00Z","action":"authenticated","slot":1,"serial":"R","proof":{"at":"2026-01-01T00:00:00.123456789Z","salt":"AAECAwQFBgcICQoLDA0ODw==","sig":"c2ln"},"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"0000000000000000000000000000000000000000000000000000000000000000"}}`))
	f.Add([]byte(`{"v":1,"id":"x","dock":"d","time":"2026-01-01T00:00:00Z","type":"cmd","body":{"action":"release-hole","serial":"R1","from":3,"to":4,"by":"chief","reason":"lost"}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, err := DecodeEnvelope(payload)
		if err != nil {
			return
		}
		b, err := DecodeBody(e)
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same type again.
		e2, err := NewEnvelope(e.ID, e.Dock, e.Time, e.Type, b)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := e2.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		e3, err := DecodeEnvelope(raw)
		if err != nil {
			t.Fatalf("re-decode envelope: %v", err)
		}
		if _, err := DecodeBody(e3); err != nil {
			t.Fatalf("re-decode body: %v", err)
		}
	})
}
