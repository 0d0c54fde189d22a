package wire

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
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

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":"x","dock":"d","time":"2026-01-01T00:00:00Z","type":"ack","body":{"ids":["a"]}}`))
	f.Add([]byte(`{"v":1,"id":"x","dock":"d","time":"2026-01-01T00:00:00Z","type":"slot.state","body":{"slot":1,"state":"copying"}}`))
	f.Add([]byte(`{"v":1,"id":"x","dock":"d","time":"2026-01-01T00:00:00Z","type":"recorder.events","body":{"serial":"R","docked_at":"2026-01-01T00:00:00Z","events":[{"index":1,"time":"2026-01-01T00:00:00Z","kind":"fault","seq":3,"detail":"encoder stalled"}]}}`))
	f.Add([]byte(`{}`))
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
