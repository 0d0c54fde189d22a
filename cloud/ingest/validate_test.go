package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/schema"
)

// refDecoder is how ingest decoded before it parsed once: wire's envelope
// decoder, the JSON Schema validator (santhosh-tekuri/jsonschema on the
// published files), then wire's body decoder with its Validate. The tests
// hold the one-pass decoder to it: same verdict, same reason, same values.
type refDecoder struct{ schema *schema.Validator }

func newRef(t testing.TB) *refDecoder {
	t.Helper()
	v, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	return &refDecoder{schema: v}
}

func (d *refDecoder) decode(payload []byte) (wire.Envelope, wire.Body, string) {
	if len(payload) > wire.MaxPayload {
		return wire.Envelope{}, nil, ReasonOversize
	}
	env, err := wire.DecodeEnvelope(payload)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return env, nil, ReasonMalformedJSON
	case errors.Is(err, wire.ErrVersion):
		return env, nil, ReasonVersion
	case errors.Is(err, wire.ErrUnknownType):
		return env, nil, ReasonUnknownType
	case err != nil:
		return env, nil, ReasonSchema
	}
	if err := d.schema.Validate(payload); err != nil {
		return env, nil, ReasonSchema
	}
	body, err := wire.DecodeBody(env)
	if err != nil {
		return env, nil, ReasonInvalid
	}
	return env, body, ""
}

// compare decodes payload both ways and reports any difference.
func compare(ref *refDecoder, payload []byte) error {
	wantEnv, wantBody, wantReason := ref.decode(payload)
	t := &tree{}
	var gotEnv wire.Envelope
	var gotBody wire.Body
	gotReason := ""
	if len(payload) > wire.MaxPayload {
		gotReason = ReasonOversize
	} else if err := t.parse(payload); err != nil {
		gotReason = ReasonMalformedJSON
	} else {
		var rj *Rejection
		gotEnv, gotBody, rj = decodeTree(t)
		if rj != nil {
			gotReason = rj.Reason
			if !errors.Is(rj, ErrRejected) {
				return fmt.Errorf("rejection %v does not match ErrRejected", rj)
			}
		}
	}
	if gotReason != wantReason {
		return fmt.Errorf("reason %q, the schema and wire's decoder say %q", gotReason, wantReason)
	}
	if wantReason != "" {
		return nil
	}
	if gotEnv.V != wantEnv.V || gotEnv.ID != wantEnv.ID || gotEnv.Dock != wantEnv.Dock || gotEnv.Type != wantEnv.Type ||
		!gotEnv.Time.Equal(wantEnv.Time) || !bytes.Equal(gotEnv.Body, wantEnv.Body) {
		return fmt.Errorf("envelope %+v, want %+v", gotEnv, wantEnv)
	}
	if !reflect.DeepEqual(gotBody, wantBody) {
		return fmt.Errorf("body %#v, want %#v", gotBody, wantBody)
	}
	return nil
}

var tv = time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)

// validBodies has one body of each type with every optional field set.
func validBodies() map[string]wire.Body {
	sha := strings.Repeat("ab", 32)
	return map[string]wire.Body{
		wire.TypeDockState: &wire.DockState{State: wire.DockOnline, Version: "1.2", Slots: 8, BufferBytes: 10, BufferCapacity: 100,
			BacklogSegments: 2, BacklogBytes: 5, OldestBacklog: tv},
		wire.TypeSlotState: &wire.SlotState{Slot: 3, State: wire.SlotFault, Serial: "R-1", Fault: "auth", Detail: "d",
			Segments: 4, Copied: 3, Uploaded: 2, Released: 1, BytesTotal: 100, BytesCopied: 50, Charging: true},
		wire.TypeDeviceHealth: &wire.DeviceHealth{Serial: "R-1", Model: "m", Firmware: "f", Officer: "o-1", Unit: "u-1", Slot: 2,
			DockedAt: tv, Battery: wire.Battery{MilliVolts: 4000, Percent: 80, HealthPct: 90, Cycles: 5, TemperatureC: 21.5, Charging: true},
			Storage:   wire.Storage{TotalBytes: 100, FreeBytes: 50, HealthPct: 99, ReadErrors: 1, WriteErrors: 2, BadBlocks: 3},
			Recording: true, DeviceClock: tv.Add(time.Second), DockClock: tv, ClockOffsetMs: 1000, ClockSet: true},
		wire.TypeSegmentManifest: &wire.SegmentManifest{Serial: "R-1", Seq: 7, Start: tv, End: tv.Add(time.Minute), Size: 1 << 20,
			SHA256: sha, Computed: sha, StopCause: wire.StopLowBattery, Officer: "o-1", CaseTag: "case", Media: "h264",
			ClockOffsetMs: -5, ClockSyncedAt: tv, State: wire.SegUploaded, Fault: "x",
			Receipt:             &wire.Receipt{ObjectID: "obj", Device: "R-1", Seq: 7, SHA256: sha, Size: 1 << 20, StoredAt: tv, KeyID: "k", Signature: "sig"},
			FollowsInterruption: true},
		wire.TypeAuditRecord: &wire.AuditRecord{Index: 3, Time: tv, Action: "docked", Slot: -1, Serial: "R-1", Seq: 2, Detail: "d",
			Proof: &wire.AuthProof{At: tv.Add(-time.Second), Salt: "AAECAwQFBgcICQoLDA0ODw==", Signature: "c2ln"}, Prev: sha, Hash: sha},
		wire.TypeAck: &wire.Ack{IDs: []string{"a", "b"}, Refused: []wire.Refusal{{ID: "c", Reason: "schema"}}},
		wire.TypeDocking: &wire.Docking{Serial: "R-1", DockedAt: tv, Phase: wire.DockingInventory, LastSeq: 9, Recording: true, Part: 1, Parts: 2,
			Segments: []wire.InventoryEntry{{Seq: 7, Start: tv, End: tv.Add(time.Minute), Size: 5, SHA256: sha, StopCause: wire.StopFault},
				{Seq: 9, Start: tv.Add(time.Hour), End: tv.Add(time.Hour), Size: 6, SHA256: sha, StopCause: wire.StopUser}},
			Copied: 1},
		wire.TypeCommand:  &wire.Command{Action: wire.CmdPowerCycle, Slot: 3, By: "chief"},
		wire.TypeCheckout: &wire.Checkout{Serial: "R-1", Officer: "o-7", Slot: 3, At: tv},
		wire.TypeRecorderEvents: &wire.RecorderEvents{Serial: "R-1", DockedAt: tv, Events: []wire.RecorderEvent{
			{Index: 4, Time: tv, Kind: wire.EventLowBattery, Seq: 7, Detail: "battery 3%"},
			{Index: 5, Time: tv.Add(time.Second), Kind: wire.EventRecordStop, Seq: 7, Detail: "low-battery"}}},
	}
}

func envelopeOf(t testing.TB, typ string, body any) map[string]any {
	t.Helper()
	e, err := wire.NewEnvelope("m-1", "dock-7", tv, typ, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return unmarshalMap(t, b)
}

func unmarshalMap(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replacements are values put in place of a member, covering every kind of
// constraint of the schema files: types, null, integer forms and ranges,
// lengths in characters and bytes, patterns, enums, date-time forms.
var replacements = []any{
	nil, true, false, "", "x", "R-1", ".", "..", "a/b", "Ā", strings.Repeat("a", 64), strings.Repeat("a", 65),
	strings.Repeat("é", 64), strings.Repeat("é", 65), strings.Repeat("x", 128), strings.Repeat("x", 129),
	strings.Repeat("é", 128), strings.Repeat("x", 256), strings.Repeat("x", 257), strings.Repeat("é", 256),
	strings.Repeat("x", 4096), strings.Repeat("x", 4097), strings.Repeat("é", 4096),
	strings.Repeat("x", 1) + "\x00", strings.Repeat("ab", 32), strings.Repeat("AB", 32), strings.Repeat("ab", 31) + "zz",
	"online", "offline", "empty", "fault", "user", "auto-split", "buffered", "released", "power-cycle", "refresh",
	json.Number("0"), json.Number("-0"), json.Number("1"), json.Number("-1"), json.Number("1.0"), json.Number("1.5"),
	json.Number("1e2"), json.Number("1E+2"), json.Number("100e-2"), json.Number("0e999999999"), json.Number("1e1000001"),
	json.Number("100"), json.Number("101"), json.Number("255"), json.Number("256"), json.Number("-9223372036854775808"),
	json.Number("-9223372036854775809"), json.Number("9223372036854775807"), json.Number("9223372036854775808"),
	json.Number("18446744073709551615"), json.Number("18446744073709551616"), json.Number("1e400"), json.Number("2.5e-400"),
	json.Number("99999999999999999999999"), json.Number("10000000000000000000e0"),
	"2026-11-25T07:00:00Z", "2026-11-25t07:00:00z", "2026-11-25T07:00:00.5+01:00", "2026-11-25T23:59:60Z",
	"2026-11-25T07:59:60+08:00", "2026-11-25T+7:00:00Z", "2026-11-25T07:00:00+24:00", "2026-02-30T07:00:00Z",
	"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z", "0001-01-01T00:00:00+00:00", "0001-01-01T01:00:00+01:00",
	"2026-11-25 07:00:00Z", "2026-11-25T07:00:00", "2026-11-25T07:00:00.Z", "9999-12-31T23:59:59.999999999Z",
	map[string]any{}, []any{}, []any{"a"}, []any{nil}, []any{1},
}

func TestDecodeMatchesSchemaAndWire(t *testing.T) {
	if _, err := NewDecoder(); err != nil { // binds the tables decodeTree uses
		t.Fatal(err)
	}
	ref := newRef(t)
	n := 0
	check := func(name string, payload []byte) {
		t.Helper()
		n++
		if err := compare(ref, payload); err != nil {
			t.Errorf("%s: %v\n%s", name, err, short(string(payload)))
		}
	}
	for typ, body := range validBodies() {
		base := envelopeOf(t, typ, body)
		check(typ+" valid", marshal(t, base))
		// Every envelope member: removed and replaced.
		for k := range base {
			m := maps(base)
			delete(m, k)
			check(fmt.Sprintf("%s without %s", typ, k), marshal(t, m))
			for _, r := range replacements {
				m := maps(base)
				m[k] = r
				check(fmt.Sprintf("%s %s=%v", typ, k, r), marshal(t, m))
			}
			m = maps(base)
			m[strings.ToUpper(k)] = m[k]
			delete(m, k)
			check(fmt.Sprintf("%s %s in upper case", typ, k), marshal(t, m))
		}
		// Every body member, and every member of its nested objects.
		var walk func(path string, obj map[string]any, set func(map[string]any))
		walk = func(path string, obj map[string]any, set func(map[string]any)) {
			for k, v := range obj {
				p := path + "/" + k
				for _, r := range append([]any{"extra"}, replacements...) {
					o := maps(obj)
					o[k] = r
					set(o)
					check(p+fmt.Sprintf("=%v", r), marshal(t, base))
				}
				o := maps(obj)
				delete(o, k)
				set(o)
				check(p+" removed", marshal(t, base))
				o = maps(obj)
				o[strings.ToUpper(k[:1])+k[1:]] = o[k]
				delete(o, k)
				set(o)
				check(p+" capitalised", marshal(t, base))
				if sub, ok := v.(map[string]any); ok {
					walk(p, sub, func(s map[string]any) {
						o := maps(obj)
						o[k] = s
						set(o)
					})
				}
				// Arrays of objects: every member of the first element.
				if arr, ok := v.([]any); ok && len(arr) > 0 {
					if sub, ok := arr[0].(map[string]any); ok {
						walk(p+"/0", sub, func(s map[string]any) {
							a := append([]any{s}, arr[1:]...)
							o := maps(obj)
							o[k] = a
							set(o)
						})
					}
				}
				set(obj)
			}
			o := maps(obj)
			o["unknown"] = 1
			set(o)
			check(path+" with an unknown member", marshal(t, base))
			set(obj)
		}
		walk(typ, base["body"].(map[string]any), func(o map[string]any) { base["body"] = o })
	}
	t.Logf("%d payloads compared", n)
}

// maps copies one level of a JSON object.
func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestDecodeRawCases: what maps cannot express (order, repeated keys,
// escapes, invalid UTF-8, nesting depth, cross-field rules).
func TestDecodeRawCases(t *testing.T) {
	if _, err := NewDecoder(); err != nil { // binds the tables decodeTree uses
		t.Fatal(err)
	}
	ref := newRef(t)
	valid := `{"v":1,"id":"m-1","dock":"dock-7","time":"2026-11-25T07:00:00Z","type":"slot.state","body":{"slot":3,"state":"empty","segments":0,"copied":0,"uploaded":0,"released":0,"bytes_total":0,"bytes_copied":0,"charging":false}}`
	sb := `{"slot":3,"state":"empty","segments":0,"copied":0,"uploaded":0,"released":0,"bytes_total":0,"bytes_copied":0,"charging":false}`
	env := func(typ, body string, extra ...string) string {
		return `{"v":1,"id":"m-1","dock":"dock-7","time":"2026-11-25T07:00:00Z","type":"` + typ + `","body":` + body + strings.Join(extra, "") + `}`
	}
	dh := `{"serial":"R1","firmware":"f","slot":1,"docked_at":"2026-11-25T07:00:00Z","battery":{"mv":1,"percent":1,"health_pct":1,"cycles":1,"temperature_c":1,"charging":false},"storage":{"total_bytes":1,"free_bytes":2,"health_pct":1,"read_errors":0,"write_errors":0,"bad_blocks":0},"recording":false,"device_clock":"2026-11-25T07:00:00Z","dock_clock":"2026-11-25T07:00:00Z","clock_offset_ms":0,"clock_set":false}`
	sha := strings.Repeat("ab", 32)
	seg := func(extra string) string {
		return `{"serial":"R1","seq":1,"start":"2026-11-25T07:00:00Z","end":"2026-11-25T07:01:00Z","size":1,"sha256":"` + sha +
			`","stop_cause":"user","clock_offset_ms":0,"clock_synced_at":"2026-11-25T07:00:00Z","state":"buffered"` + extra + `}`
	}
	cases := []string{
		valid, "", " ", "{", "{}", "null", "[]", "[1,2,3]", `"x"`, "1", "true", valid + " ", valid + "x", " " + valid + "\n",
		`{"v":1}`, `{"v":2}`, `{"v":null}`, `{"v":"1"}`, `{"v":1.0}`, `{"v":1e0}`, `{"V":1}`, `{"v":1,"V":2}`,
		strings.Replace(valid, `"v":1`, `"v":1.0`, 1), strings.Replace(valid, `"v":1`, `"v":10e-1`, 1),
		strings.Replace(valid, `"v":1,`, `"v":1,"v":2,`, 1), strings.Replace(valid, `"v":1,`, `"v":2,"v":1,`, 1),
		strings.Replace(valid, `"v":1,`, `"v":1,"V":1,`, 1), strings.Replace(valid, `"v":1,`, `"V":1,`, 1),
		strings.Replace(valid, `"v":1,`, `"v":1,"v":null,`, 1),
		strings.Replace(valid, `"type":"slot.state"`, `"type":"slot.state","TYPE":"dock.state"`, 1),
		strings.Replace(valid, `"type":"slot.state"`, `"TYPE":"slot.state"`, 1),
		strings.Replace(valid, `"body":`, `"BODY":`, 1),
		env("slot.state", sb, `,"BODY":`+sb),
		env("slot.state", sb, `,"Body":{"slot":4}`),
		env("slot.state", sb, `,"body":null`),
		env("slot.state", `null`), env("slot.state", `[]`), env("slot.state", `"x"`),
		env("slot.state", sb, `,"time":null`), env("slot.state", sb, `,"Time":"bad"`), env("slot.state", sb, `,"id":null`),
		env("slot.state", sb, `,"unknown":[1,{"a":null}]`),
		strings.Replace(valid, `"time":"2026-11-25T07:00:00Z"`, `"time":"2026-11-25T07:00:00\u005a"`, 1),
		strings.Replace(valid, `"dock":"dock-7"`, `"dock":"dock\u002d7"`, 1),
		strings.Replace(valid, `"id":"m-1"`, `"id":"m\ud800"`, 1),
		strings.Replace(valid, `"id":"m-1"`, "\"id\":\"m\xff\"", 1),
		strings.Replace(valid, `"id":"m-1"`, `"id":"`+strings.Repeat("é", 65)+`"`, 1),
		strings.Replace(valid, `"id":"m-1"`, `"id":"`+strings.Repeat("é", 64)+`"`, 1),
		strings.Replace(valid, `"id":"m-1"`, `"id":"`+strings.Repeat("x", 129)+`"`, 1),
		strings.Replace(valid, `"id":"m-1"`, "\"id\":\"a\tb\"", 1),
		strings.Replace(valid, `"id":"m-1"`, `"id":"a\qb"`, 1),
		strings.Replace(valid, `"slot":3`, `"slot":3,"slot":300`, 1), strings.Replace(valid, `"slot":3`, `"slot":300,"slot":3`, 1),
		strings.Replace(valid, `"slot":3`, `"slot":"x","slot":3`, 1), strings.Replace(valid, `"slot":3`, `"slot":null,"slot":3`, 1),
		strings.Replace(valid, `"slot":3`, `"slot":3,"Slot":3`, 1), strings.Replace(valid, `"slot":3`, `"ſlot":3`, 1),
		strings.Replace(valid, `"slot":3`, `"slot":3.0`, 1), strings.Replace(valid, `"slot":3`, `"slot":-0`, 1),
		strings.Replace(valid, `"state":"empty"`, `"state":"\u0065mpty"`, 1),
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`, `{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
		`{"v":01}`, `{"v":-}`, `{"v":1.}`, `{"v":.5}`, `{"v":1e}`, `{"v":+1}`, `{"v":tru}`, `{"v":1,}`, `{,}`, `{"v" 1}`,
		env("device.health", dh), env("device.health", strings.Replace(dh, `"free_bytes":2`, `"free_bytes":1`, 1)),
		env("device.health", strings.Replace(strings.Replace(dh, `"free_bytes":2`, `"free_bytes":1`, 1), `"docked_at":"2026-11-25T07:00:00Z"`, `"docked_at":"0001-01-01T01:00:00+01:00"`, 1)),
		env("device.health", strings.Replace(strings.Replace(dh, `"free_bytes":2`, `"free_bytes":1`, 1), `"battery":{`, `"battery":{"mv":"x","mv":1,`, 1)),
		env("device.health", strings.Replace(strings.Replace(dh, `"free_bytes":2`, `"free_bytes":1`, 1), `"battery":{`, `"battery":{"mv":1.5,"mv":1,`, 1)),
		env("device.health", strings.Replace(strings.Replace(dh, `"free_bytes":2`, `"free_bytes":1`, 1), `"temperature_c":1`, `"temperature_c":1e999`, 1)),
		env("segment.manifest", seg("")), env("segment.manifest", seg(`,"receipt":null`)),
		env("segment.manifest", strings.Replace(seg(""), `"end":"2026-11-25T07:01:00Z"`, `"end":"2026-11-25T06:01:00Z"`, 1)),
		env("segment.manifest", seg(`,"case_tag":"`+strings.Repeat("é", 100)+`"`)),
		env("segment.manifest", seg(`,"media":"`+strings.Repeat("é", 200)+`"`)),
		env("segment.manifest", seg(`,"receipt":{"object":"o","device":"R1","seq":1,"sha256":"`+sha+`","size":1,"stored_at":"2026-11-25T07:00:00Z","key_id":"k","sig":"s"}`)),
		env("segment.manifest", seg(`,"receipt":{"object":"o","device":"R2","seq":1,"sha256":"`+sha+`","size":1,"stored_at":"2026-11-25T07:00:00Z","key_id":"k","sig":"s"}`)),
		env("segment.manifest", seg(`,"receipt":{"object":"o","device":"R1","seq":1,"sha256":"`+sha+`","size":1,"stored_at":"2026-11-25T07:00:00Z","key_id":"k","sig":"s"},"receipt":null`)),
		env("segment.manifest", seg(`,"receipt":{"object":"o"},"receipt":{"object":"o","device":"R1","seq":1,"sha256":"`+sha+`","size":1,"stored_at":"2026-11-25T07:00:00Z","key_id":"k","sig":"s"}`)),
		env("segment.manifest", strings.Replace(seg(""), `"seq":1`, `"seq":-0`, 1)),
		env("audit.record", `{"index":0,"time":"2026-11-25T07:00:00Z","action":"`+strings.Repeat("é", 40)+`","slot":-1,"prev":"`+sha+`","hash":"`+sha+`"}`),
		env("audit.record", `{"index":0,"time":"0001-01-01T00:00:00+00:00","action":"a","slot":-1,"prev":"`+sha+`","hash":"`+sha+`"}`),
		env("audit.record", `{"index":0,"time":"2026-11-25T07:00:00Z","action":"a","slot":-1,"prev":"`+sha+`","hash":"`+sha+`","detail":"`+strings.Repeat("é", 3000)+`"}`),
		env("cmd", `{"action":"power-cycle","slot":300}`), env("cmd", `{"action":"refresh","slot":300}`), env("cmd", `{"action":"power-cycle"}`),
		env("cmd", `{"slot":300}`), env("cmd", `{"action":"power-cycle","slot":3}`),
		env("ack", `{"ids":[]}`), env("ack", `{"ids":["a",null]}`), env("ack", `{"ids":null}`), env("ack", `{"ids":["a"],"ids":[null]}`),
	}
	for i, c := range cases {
		if err := compare(ref, []byte(c)); err != nil {
			t.Errorf("case %d: %v\n%s", i, err, short(c))
		}
	}
}

// FuzzDecodeSameAsSchema: for any payload, the one-pass decoder accepts
// exactly what the JSON Schema and wire's decoder accepted together, with
// the same reason and the same decoded values. Seeds: the valid bodies, the
// raw cases' shapes and testdata/fuzz/FuzzDecode.
func FuzzDecodeSameAsSchema(f *testing.F) {
	if _, err := NewDecoder(); err != nil { // binds the tables decodeTree uses
		f.Fatal(err)
	}
	ref := newRef(f)
	for typ, body := range validBodies() {
		f.Add(marshal(f, envelopeOf(f, typ, body)))
	}
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzDecode/*")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if q, ok := strings.CutPrefix(line, "[]byte("); ok {
					var p string
					if _, err := fmt.Sscanf(strings.TrimSuffix(q, ")"), "%q", &p); err == nil {
						f.Add([]byte(p))
					}
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if err := compare(ref, payload); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSpecsMatchSchemaFiles: the tables name exactly the properties, the
// required ones and the enums of the published schema files.
func TestSpecsMatchSchemaFiles(t *testing.T) {
	if _, err := NewDecoder(); err != nil {
		t.Fatal(err)
	}
	type prop struct {
		Enum []string `json:"enum"`
	}
	type file struct {
		Required   []string        `json:"required"`
		Properties map[string]prop `json:"properties"`
	}
	read := func(name string) file {
		b, err := schema.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var f file
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	var common struct {
		Defs map[string]file `json:"$defs"`
	}
	b, _ := schema.Files.ReadFile("common.json")
	if err := json.Unmarshal(b, &common); err != nil {
		t.Fatal(err)
	}
	var nested struct {
		Properties map[string]file `json:"properties"`
	}
	b, _ = schema.Files.ReadFile("device.health.json")
	json.Unmarshal(b, &nested)
	files := map[*objSpec]file{receiptSpec: common.Defs["receipt"], batterySpec: nested.Properties["battery"],
		storageSpec: nested.Properties["storage"]}
	var arrays struct {
		Properties map[string]struct {
			Items file `json:"items"`
		} `json:"properties"`
	}
	b, _ = schema.Files.ReadFile("docking.json")
	json.Unmarshal(b, &arrays)
	files[inventorySpec] = arrays.Properties["segments"].Items
	b, _ = schema.Files.ReadFile("ack.json")
	json.Unmarshal(b, &arrays)
	files[refusalSpec] = arrays.Properties["refused"].Items
	b, _ = schema.Files.ReadFile("recorder.events.json")
	json.Unmarshal(b, &arrays)
	files[eventSpec] = arrays.Properties["events"].Items
	for typ, spec := range bodySpecs {
		files[spec] = read(typ + ".json")
	}
	if len(bodySpecs) != 11 {
		t.Errorf("%d body specs", len(bodySpecs))
	}
	for spec, f := range files {
		var names, req []string
		for _, fl := range spec.fields {
			names = append(names, fl.name)
			if fl.required {
				req = append(req, fl.name)
			}
			if p := f.Properties[fl.name]; len(p.Enum) > 0 && !slices.Equal(p.Enum, fl.enum) {
				t.Errorf("%s.%s: enum %v, file %v", spec.name, fl.name, fl.enum, p.Enum)
			}
		}
		var fileNames []string
		for n := range f.Properties {
			fileNames = append(fileNames, n)
		}
		slices.Sort(names)
		slices.Sort(req)
		slices.Sort(fileNames)
		fr := slices.Clone(f.Required)
		slices.Sort(fr)
		if !slices.Equal(names, fileNames) || !slices.Equal(req, fr) {
			t.Errorf("%s: properties %v required %v; file %v required %v", spec.name, names, req, fileNames, fr)
		}
	}
}

// BenchmarkDecode: one segment manifest (the bulk of ingest), decoded by
// the one-pass decoder and by the three passes it replaced.
func BenchmarkDecode(b *testing.B) {
	m := validBodies()[wire.TypeSegmentManifest]
	e, err := wire.NewEnvelope("m-1", "dock-7", tv, wire.TypeSegmentManifest, m)
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := e.Marshal()
	topic := wire.SegmentsTopic("dock-7")
	b.Run("once", func(b *testing.B) {
		dec, err := NewDecoder()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, _, err := dec.Decode(topic, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("three-passes", func(b *testing.B) {
		ref := newRef(b)
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, _, r := ref.decode(payload); r != "" {
				b.Fatal(r)
			}
		}
	})
}

// TestDecodeConcurrent: one Decoder (its pooled trees) used from many
// goroutines at once (run with -race).
func TestDecodeConcurrent(t *testing.T) {
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	var payloads [][]byte
	for typ, body := range validBodies() {
		payloads = append(payloads, marshal(t, envelopeOf(t, typ, body)))
	}
	want := make([]wire.Body, len(payloads))
	for i, p := range payloads {
		_, inc, err := dec.Decode(wire.SegmentsTopic("dock-7"), p)
		if err == nil {
			want[i] = inc.Body
		}
	}
	done := make(chan error)
	for g := range 8 {
		go func() {
			for n := range 200 {
				i := (g + n) % len(payloads)
				_, inc, err := dec.Decode(wire.SegmentsTopic("dock-7"), payloads[i])
				if (err == nil) != (want[i] != nil) || err == nil && !reflect.DeepEqual(inc.Body, want[i]) {
					done <- fmt.Errorf("payload %d: %v %#v", i, err, inc.Body)
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
