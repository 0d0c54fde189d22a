package docklink

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and the golden fuzz seeds")

var t0 = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)

func sig64() (s [64]byte) {
	for i := range s {
		s[i] = 0x50 + byte(i)
	}
	return s
}

func sha(b byte) (s [32]byte) {
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

var sampleSegment = Segment{
	Seq: 42, Start: t0, End: t0.Add(10 * time.Minute), Size: 123456789, SHA256: sha(0xA0),
	StopCause: StopLowBattery, Officer: "police-0042", CaseTag: "A-2026-117",
	Media: Media{Container: "mp4", VideoCodec: "h264", Width: 1920, Height: 1080, FrameRateMilli: 30000,
		AudioCodec: "aac", AudioSampleRate: 16000, AudioChannels: 1},
}

// goldens are the vectors of testdata/golden: one frame per message type,
// with the request id it is sent with. The names are the file names.
var goldens = []struct {
	name string
	id   uint32
	msg  Message
}{
	{"hello", 1, &Hello{MinVersion: 1, MaxVersion: 1, Capabilities: capsV1, MaxPayload: 1 << 20, DockID: "dock-7"}},
	{"hello_ack", 1, &HelloAck{Version: 1, Capabilities: capsV1, MaxPayload: 1 << 20, MaxRead: 256 << 10, MaxOutstanding: 32,
		Info: DeviceInfo{Serial: "BWC-0001", Model: "R1", Firmware: "2.3.1", HWRevision: "B", PublicKey: sha(0x10)}}},
	{"auth_challenge", 2, &AuthChallenge{Nonce: sha(0x30)}},
	{"auth_response", 2, &AuthResponse{Signature: sig64()}},
	{"status_get", 3, &StatusGet{}},
	{"status", 3, &Status{
		Battery:   Battery{MilliVolts: 3987, Percent: 81, HealthPercent: 93, Cycles: 214, TempDeciC: -55, Charge: ChargeCharging},
		Storage:   Storage{TotalBytes: 64 << 30, FreeBytes: 12 << 30, HealthPercent: 97, ReadErrors: 1, WriteErrors: 0, BadBlocks: 3},
		Clock:     t0.Add(1500 * time.Millisecond),
		Recording: RecordingIdle, LastSeq: 43, Firmware: "2.3.1", Officer: "police-0042"}},
	{"clock_get", 4, &ClockGet{}},
	{"clock", 4, &Clock{Time: t0.Add(1500 * time.Millisecond)}},
	{"clock_set", 5, &ClockSet{Time: t0}},
	{"clock_set_ack", 5, &ClockSetAck{Previous: t0.Add(1500 * time.Millisecond), Now: t0}},
	{"inventory_get", 6, &InventoryGet{AfterSeq: 41, MaxCount: 100}},
	{"inventory_page", 6, &InventoryPage{Segments: []Segment{sampleSegment}, More: true}},
	{"inventory_page_empty", 7, &InventoryPage{}},
	{"events_get", 8, &EventsGet{AfterIndex: 0, MaxCount: 100}},
	{"events_page", 8, &EventsPage{Events: []Event{
		{Index: 1, Time: t0, Kind: EventRecordStart, Seq: 42},
		{Index: 2, Time: t0.Add(10 * time.Minute), Kind: EventLowBattery, Detail: "3.41 V"},
	}}},
	{"read", 9, &Read{Seq: 42, Offset: 262144, Length: 8}},
	{"data", 9, &Data{Seq: 42, Offset: 262144, Bytes: []byte{0x00, 0x00, 0x00, 0x18, 'f', 't', 'y', 'p'}}},
	{"release", 10, &Release{Seq: 42, SHA256: sha(0xA0)}},
	{"release_ack", 10, &ReleaseAck{Seq: 42}},
	{"ping", 11, &Ping{}},
	{"pong", 11, &Pong{}},
	{"error", 12, &Error{Code: CodeHashMismatch, Message: "seq 42: hash differs"}},
	{"fw_offer", 13, &FwOffer{Model: "R1", Version: "2.5.0", Size: 1 << 20, SHA256: sha(0xC0), Signature: sig64()}},
	{"fw_offer_ack", 13, &FwOfferAck{Held: 393216, MaxWrite: 256 << 10}},
	{"fw_write", 14, &FwWrite{Offset: 393216, Bytes: []byte{0x7f, 'E', 'L', 'F', 0x02, 0x01, 0x01, 0x00}}},
	{"fw_write_ack", 14, &FwWriteAck{Held: 393224}},
	{"fw_commit", 15, &FwCommit{SHA256: sha(0xC0), Reboot: true}},
	{"fw_commit_ack", 15, &FwCommitAck{Version: "2.5.0"}},
	{"fw_status_get", 16, &FwStatusGet{}},
	{"fw_status", 16, &FwStatus{Running: "2.4.1", Previous: "2.3.1", Result: FwResultRolledBack, ResultVersion: "2.5.0",
		Detail: "boot self-test failed", StagedSHA256: sha(0xC0), StagedHeld: 1 << 20}},
}

// capsV1 are the capabilities of DockLink v1 as first published (§16's
// examples): the firmware bit came later, so the vectors stay as they were.
const capsV1 = CapClockSet | CapEvents | CapRelease | CapMedia

// wireFrame encodes one message as it appears on the wire.
func wireFrame(t testing.TB, id uint32, m Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	fr := NewFramer(nil, &buf)
	fr.SetLimits(MaxPayload, MaxPayload)
	if err := fr.WriteMessage(id, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// formatHex writes 16 bytes a line, the format of testdata/golden.
func formatHex(b []byte) string {
	var s strings.Builder
	for i := 0; i < len(b); i += 16 {
		line := b[i:min(i+16, len(b))]
		for j, c := range line {
			if j > 0 {
				s.WriteByte(' ')
			}
			fmt.Fprintf(&s, "%02x", c)
		}
		s.WriteByte('\n')
	}
	return s.String()
}

func parseHex(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
		if err != nil {
			t.Fatalf("bad hex %q: %v", line, err)
		}
		out = append(out, b...)
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			path := filepath.Join("testdata", "golden", g.name+".hex")
			wire := wireFrame(t, g.id, g.msg)
			if *update {
				payload, _ := g.msg.AppendPayload(nil)
				plain := AppendFrame(nil, Header{Version: FrameVersion, Type: g.msg.Type(), ReqID: g.id}, payload)
				head := fmt.Sprintf("# %s, request id %d (PROTOCOL.md §3).\n# Frame before COBS: header | payload | CRC-32C:\n", g.msg.Type(), g.id)
				head += "#   " + strings.ReplaceAll(strings.TrimSpace(formatHex(plain)), "\n", "\n#   ") + "\n"
				head += "# On the wire (COBS-encoded, then the 0x00 delimiter):\n"
				writeFile(t, path, head+formatHex(wire))
				seed := func(target string, b []byte) {
					writeFile(t, filepath.Join("testdata", "fuzz", target, "golden-"+g.name), fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b))
				}
				seed(fuzzName(g.msg.Type()), payload)
				seed("FuzzReadFrame", wire)
				seed("FuzzCOBS", wire[:len(wire)-1])
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create)", err)
			}
			want := parseHex(t, string(raw))
			if !bytes.Equal(wire, want) {
				t.Fatalf("encode:\n got %s\nwant %s", formatHex(wire), formatHex(want))
			}
			fr := NewFramer(bytes.NewReader(want), nil)
			fr.SetLimits(MaxPayload, MaxPayload)
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if f.Type != g.msg.Type() || f.ReqID != g.id {
				t.Fatalf("header: type %s id %d", f.Type, f.ReqID)
			}
			got, err := Decode(f.Type, f.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, g.msg) {
				t.Fatalf("decode:\n got %+v\nwant %+v", got, g.msg)
			}
		})
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fuzzName is the fuzz target decoding messages of type t.
func fuzzName(t Type) string {
	n := strings.ToLower(t.String())
	var s strings.Builder
	s.WriteString("Fuzz")
	for _, part := range strings.Split(n, "_") {
		s.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return s.String()
}
