package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/berthdock/berth/cloud/wire"
)

var t0 = time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)

func hash(c string) string { return strings.Repeat(c, 64) }

// samples is one body of every type wire can produce, with every optional
// field set, plus minimal ones.
func samples() map[string][]any {
	rc := &wire.Receipt{ObjectID: "sha256-" + hash("a"), Device: "REC-1", Seq: 42, SHA256: hash("a"), Size: 10,
		StoredAt: t0, KeyID: "k1", Signature: "c2ln"}
	audit := &wire.AuditRecord{Time: t0, Action: wire.AuditCopied, Slot: 2, Serial: "REC-1", Seq: 42, Detail: "copied"}
	if err := audit.Seal("dock-7", nil); err != nil {
		panic(err)
	}
	authed := &wire.AuditRecord{Time: t0, Action: wire.AuditAuthenticated, Slot: 2, Serial: "REC-1", Detail: "firmware 2.1.0",
		Proof: &wire.AuthProof{At: t0.Add(-123456789), Salt: "AAECAwQFBgcICQoLDA0ODw==", Signature: strings.Repeat("c2ln", 22)}}
	if err := authed.Seal("dock-7", audit); err != nil {
		panic(err)
	}
	return map[string][]any{
		wire.TypeDockState: {
			&wire.DockState{State: wire.DockOnline, Version: "1.2.3", Slots: 8, BufferBytes: 1 << 30, BufferCapacity: 1 << 40,
				BacklogSegments: 3, BacklogBytes: 1 << 20, OldestBacklog: t0},
			&wire.DockState{State: wire.DockOffline},
		},
		wire.TypeSlotState: {
			&wire.SlotState{Slot: 3, State: wire.SlotCopying, Serial: "REC-1", Fault: "x", Detail: "d", Segments: 4, Copied: 2,
				Uploaded: 1, Released: 1, BytesTotal: 100, BytesCopied: 50, Charging: true},
			&wire.SlotState{Slot: 0, State: wire.SlotEmpty},
			&wire.SlotState{Slot: 255, State: wire.SlotFault, Fault: "auth-refused"},
		},
		wire.TypeDeviceHealth: {
			&wire.DeviceHealth{Serial: "REC-1", Model: "BWC-9", Firmware: "2.1.0", Officer: "o-1001", Unit: "unit-3", Slot: 2,
				DockedAt: t0, Battery: wire.Battery{MilliVolts: 4100, Percent: 80, HealthPct: 91, Cycles: 120, TemperatureC: 31.5,
					Charging: true}, Storage: wire.Storage{TotalBytes: 64 << 30, FreeBytes: 40 << 30, HealthPct: 98, ReadErrors: 1,
					WriteErrors: 2, BadBlocks: 3}, Recording: true, DeviceClock: t0.Add(1500 * time.Millisecond), DockClock: t0,
				ClockOffsetMs: 1500, ClockSet: true},
			&wire.DeviceHealth{Serial: "R", DockedAt: t0, DockClock: t0},
			&wire.DeviceHealth{Serial: "R2", DockedAt: t0, DockClock: t0, Battery: wire.Battery{Percent: 100, HealthPct: 93,
				Measured: &wire.MeasuredCapacity{MilliAmpHours: 1830, DesignMilliAmpHours: 3000, Pct: 61, FromPct: 20, ToPct: 100, At: t0}}},
		},
		wire.TypeSegmentManifest: {
			&wire.SegmentManifest{Serial: "REC-1", Seq: 42, Start: t0, End: t0.Add(time.Minute), Size: 10, SHA256: hash("a"),
				Computed: hash("a"), StopCause: wire.StopLowBattery, Officer: "o-1", CaseTag: strings.Repeat("c", 128),
				Media: "h264/aac", ClockOffsetMs: -20, ClockSyncedAt: t0, State: wire.SegUploaded, Fault: "f", Receipt: rc,
				FollowsInterruption: true},
			&wire.SegmentManifest{Serial: "R", Seq: 1<<64 - 1, SHA256: hash("0"), StopCause: wire.StopUnknown, State: wire.SegBuffered},
			&wire.SegmentManifest{Serial: "LEGACY-1", Seq: 3, Start: t0, End: t0.Add(time.Minute), SHA256: hash("0"),
				StopCause: wire.StopUnknown, State: wire.SegReleased, TimeSource: wire.TimeSourceFile},
		},
		wire.TypeAuditRecord: {audit, authed},
		wire.TypeAck: {&wire.Ack{IDs: []string{"m-1", "m-2"}},
			&wire.Ack{IDs: []string{}, Refused: []wire.Refusal{{ID: "m-3", Reason: "schema: seq out of range"}}}},
		wire.TypeDocking: {
			&wire.Docking{Serial: "REC-1", DockedAt: t0, Phase: wire.DockingInventory, LastSeq: 44, Recording: false, Part: 1, Parts: 2,
				Segments: []wire.InventoryEntry{{Seq: 42, Start: t0, End: t0.Add(time.Minute), Size: 10, SHA256: hash("a"), StopCause: wire.StopUser},
					{Seq: 44, Start: t0.Add(time.Hour), End: t0.Add(time.Hour), Size: 0, SHA256: hash("b"), StopCause: wire.StopPowerLoss}}},
			&wire.Docking{Serial: "R", DockedAt: t0, Phase: wire.DockingComplete, Part: 1, Parts: 1, Copied: 3},
		},
		wire.TypeFirmware: {
			&wire.FirmwareProgress{Campaign: "fw-2.5.0", Serial: "REC-1", Slot: 2, Model: "R1", Version: "2.5.0", Running: "2.4.1",
				State: wire.FwRolledBack, Held: 10, Size: 10, Detail: "boot self-test failed", At: t0},
			&wire.FirmwareProgress{Campaign: "c", Serial: "R", Model: "m", Version: "v", State: wire.FwTransferring, Size: 1, At: t0},
		},
		wire.TypeCheckout: {&wire.Checkout{Serial: "REC-1", Officer: "officer-7", Slot: 255, At: t0}},
		wire.TypeRecorderEvents: {
			&wire.RecorderEvents{Serial: "REC-1", DockedAt: t0, Events: []wire.RecorderEvent{
				{Index: 1, Time: t0, Kind: wire.EventPowerOn},
				{Index: 2, Time: t0.Add(time.Minute), Kind: wire.EventRecordStop, Seq: 1<<64 - 1, Detail: "低电量 low-battery"},
				{Index: 1<<64 - 1, Time: t0.Add(time.Hour), Kind: wire.EventFault, Detail: "encoder stalled"}}},
		},
		wire.TypeCommand: {
			&wire.Command{Action: wire.CmdPowerCycle, Slot: 3, By: "custodian-1"},
			&wire.Command{Action: wire.CmdRefresh},
		},
	}
}

func payload(t *testing.T, typ string, body any) []byte {
	t.Helper()
	e, err := wire.NewEnvelope("m-1", "dock-7", t0, typ, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wireAccepts is what ingest's Go decoding does.
func wireAccepts(p []byte) error {
	e, err := wire.DecodeEnvelope(p)
	if err != nil {
		return err
	}
	_, err = wire.DecodeBody(e)
	return err
}

// full compiles envelope.json as a whole, as a validator outside Go would.
func full(t testing.TB) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	names, _ := fs.Glob(Files, "*.json")
	for _, n := range names {
		b, _ := Files.ReadFile(n)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(BaseURI+n, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile(EnvelopeURI)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fullAccepts validates with the whole envelope.json.
func fullAccepts(t testing.TB, s *jsonschema.Schema, p []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(p))
	if err != nil {
		return err
	}
	return s.Validate(doc)
}

func newValidator(t testing.TB) *Validator {
	t.Helper()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Every body type wire knows has a sample, and every sample validates.
func TestEveryWireBodyValidates(t *testing.T) {
	v := newValidator(t)
	whole := full(t)
	if got := v.Types(); len(got) != len(samples()) {
		t.Errorf("validator knows types %v", got)
	}
	s := samples()
	for _, typ := range []string{wire.TypeDockState, wire.TypeSlotState, wire.TypeDeviceHealth, wire.TypeSegmentManifest,
		wire.TypeAuditRecord, wire.TypeAck, wire.TypeCommand, wire.TypeDocking, wire.TypeRecorderEvents, wire.TypeCheckout, wire.TypeFirmware} {
		if len(s[typ]) == 0 {
			t.Errorf("no sample for %s", typ)
		}
	}
	for typ, bodies := range s {
		for i, b := range bodies {
			p := payload(t, typ, b)
			if err := wireAccepts(p); err != nil {
				t.Fatalf("%s #%d: wire rejects its own sample: %v", typ, i, err)
			}
			if err := v.Validate(p); err != nil {
				t.Errorf("%s #%d: schema rejects what wire produces: %v\n%s", typ, i, err, p)
			}
			if err := fullAccepts(t, whole, p); err != nil {
				t.Errorf("%s #%d: envelope.json rejects what wire produces: %v", typ, i, err)
			}
		}
	}
	// Every schema file is an envelope or a type the envelope dispatches to.
	var env map[string]any
	b, _ := Files.ReadFile("envelope.json")
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	enum := env["$defs"].(map[string]any)["core"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]any)
	if len(enum) != len(s) {
		t.Errorf("envelope type enum has %d types, wire has %d", len(enum), len(s))
	}
	for _, typ := range enum {
		if _, ok := s[typ.(string)]; !ok {
			t.Errorf("schema type %q unknown to wire", typ)
		}
		if _, err := Files.ReadFile(typ.(string) + ".json"); err != nil {
			t.Errorf("no schema file for %q", typ)
		}
	}
}

// mutate decodes p, applies f to the generic document and re-encodes it.
func mutate(t *testing.T, p []byte, f func(env, body map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(p, &env); err != nil {
		t.Fatal(err)
	}
	body, _ := env["body"].(map[string]any)
	f(env, body)
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sample(t *testing.T, typ string) []byte { return payload(t, typ, samples()[typ][0]) }

// rejections are payloads wire refuses; the schema must refuse each too.
func rejections(t *testing.T) map[string][]byte {
	set := func(typ, k string, val any) []byte {
		return mutate(t, sample(t, typ), func(_, b map[string]any) { b[k] = val })
	}
	env := func(k string, val any) []byte {
		return mutate(t, sample(t, wire.TypeAck), func(e, _ map[string]any) {
			if val == nil {
				delete(e, k)
			} else {
				e[k] = val
			}
		})
	}
	nested := func(obj, k string, val any) []byte {
		return mutate(t, sample(t, wire.TypeDeviceHealth), func(_, b map[string]any) { b[obj].(map[string]any)[k] = val })
	}
	return map[string][]byte{
		"version 2":               env("v", 2),
		"version string":          env("v", "1"),
		"no version":              env("v", nil),
		"empty id":                env("id", ""),
		"long id":                 env("id", strings.Repeat("i", 129)),
		"bad dock":                env("dock", "../x"),
		"dock with slash":         env("dock", "a/b"),
		"long dock":               env("dock", strings.Repeat("d", 65)),
		"dot dock":                env("dock", ".."),
		"zero time":               env("time", "0001-01-01T00:00:00Z"),
		"bad time":                env("time", "yesterday"),
		"no time":                 env("time", nil),
		"unknown type":            env("type", "nope"),
		"null body":               env("body", json.RawMessage("null")),
		"no body":                 env("body", nil),
		"ack unknown field":       set(wire.TypeAck, "extra", 1),
		"ack empty":               set(wire.TypeAck, "ids", []string{}),
		"ack too many":            set(wire.TypeAck, "ids", make([]string, 10001)),
		"ack ids not strings":     set(wire.TypeAck, "ids", []int{1}),
		"dock state":              set(wire.TypeDockState, "state", "sleeping"),
		"dock negative slots":     set(wire.TypeDockState, "slots", -1),
		"dock negative backlog":   set(wire.TypeDockState, "backlog_bytes", -5),
		"dock fractional slots":   set(wire.TypeDockState, "slots", 1.5),
		"dock bad oldest":         set(wire.TypeDockState, "oldest_backlog", "soon"),
		"slot state":              set(wire.TypeSlotState, "state", "flying"),
		"slot 256":                set(wire.TypeSlotState, "slot", 256),
		"slot -1":                 set(wire.TypeSlotState, "slot", -1),
		"slot bad serial":         set(wire.TypeSlotState, "serial", "a b"),
		"slot negative copied":    set(wire.TypeSlotState, "copied", -1),
		"slot charging string":    set(wire.TypeSlotState, "charging", "yes"),
		"health bad serial":       set(wire.TypeDeviceHealth, "serial", ""),
		"health bad officer":      set(wire.TypeDeviceHealth, "officer", "o/1"),
		"health bad unit":         set(wire.TypeDeviceHealth, "unit", "u 1"),
		"health zero docked_at":   set(wire.TypeDeviceHealth, "docked_at", "0001-01-01T00:00:00Z"),
		"health zero dock_clock":  set(wire.TypeDeviceHealth, "dock_clock", "0001-01-01T00:00:00Z"),
		"health battery 101":      nested("battery", "percent", 101),
		"health battery -1":       nested("battery", "percent", -1),
		"health soh 101":          nested("battery", "health_pct", 101),
		"health storage negative": nested("storage", "total_bytes", -1),
		"health battery extra":    nested("battery", "volts", 4),
		"health measured zero":    nested("battery", "measured", map[string]any{"mah": 0, "from_pct": 10, "to_pct": 90, "at": "2026-11-25T07:00:00Z"}),
		"health measured pct":     nested("battery", "measured", map[string]any{"mah": 9, "pct": 201, "from_pct": 10, "to_pct": 90, "at": "2026-11-25T07:00:00Z"}),
		"health measured no time": nested("battery", "measured", map[string]any{"mah": 9, "from_pct": 10, "to_pct": 90}),
		"health measured extra":   nested("battery", "measured", map[string]any{"mah": 9, "from_pct": 10, "to_pct": 90, "at": "2026-11-25T07:00:00Z", "x": 1}),
		"health slot huge":        set(wire.TypeDeviceHealth, "slot", 1e20),
		"seg bad hash":            set(wire.TypeSegmentManifest, "sha256", "xyz"),
		"seg upper hash":          set(wire.TypeSegmentManifest, "sha256", strings.Repeat("A", 64)),
		"seg bad computed":        set(wire.TypeSegmentManifest, "computed", hash("g")),
		"seg negative size":       set(wire.TypeSegmentManifest, "size", -1),
		"seg negative seq":        set(wire.TypeSegmentManifest, "seq", -1),
		"seg seq overflow":        set(wire.TypeSegmentManifest, "seq", json.Number("18446744073709551616")),
		"seg stop cause":          set(wire.TypeSegmentManifest, "stop_cause", "bored"),
		"seg state":               set(wire.TypeSegmentManifest, "state", "lost"),
		"seg long case":           set(wire.TypeSegmentManifest, "case_tag", strings.Repeat("c", 129)),
		"seg long media":          set(wire.TypeSegmentManifest, "media", strings.Repeat("m", 257)),
		"seg bad officer":         set(wire.TypeSegmentManifest, "officer", "o?"),
		"seg receipt extra":       set(wire.TypeSegmentManifest, "receipt", map[string]any{"x": 1}),
		"seg unknown field":       set(wire.TypeSegmentManifest, "hash", hash("a")),
		"seg time source":         set(wire.TypeSegmentManifest, "time_source", "guess"),
		"audit empty action":      set(wire.TypeAuditRecord, "action", ""),
		"audit long action":       set(wire.TypeAuditRecord, "action", strings.Repeat("a", 65)),
		"audit long detail":       set(wire.TypeAuditRecord, "detail", strings.Repeat("d", 4097)),
		"audit zero time":         set(wire.TypeAuditRecord, "time", "0001-01-01T00:00:00Z"),
		"audit bad prev":          set(wire.TypeAuditRecord, "prev", "00"),
		"audit bad hash":          set(wire.TypeAuditRecord, "hash", hash("z")),
		"audit bad serial":        set(wire.TypeAuditRecord, "serial", "s\x00"),
		"audit proof zero at":     set(wire.TypeAuditRecord, "proof", map[string]any{"at": "0001-01-01T00:00:00Z", "salt": "a", "sig": "b"}),
		"audit proof long salt":   set(wire.TypeAuditRecord, "proof", map[string]any{"at": "2026-11-25T07:00:00Z", "salt": strings.Repeat("a", 65), "sig": "b"}),
		"audit proof long sig":    set(wire.TypeAuditRecord, "proof", map[string]any{"at": "2026-11-25T07:00:00Z", "salt": "a", "sig": strings.Repeat("b", 129)}),
		"audit proof extra":       set(wire.TypeAuditRecord, "proof", map[string]any{"at": "2026-11-25T07:00:00Z", "salt": "a", "sig": "b", "key": "c"}),
		"audit proof not object":  set(wire.TypeAuditRecord, "proof", "sig"),
		"cmd action":              set(wire.TypeCommand, "action", "rm -rf"),
		"cmd slot 300":            set(wire.TypeCommand, "slot", 300),
		"cmd by number":           set(wire.TypeCommand, "by", 7),
		"firmware state":          set(wire.TypeFirmware, "state", "done"),
		"firmware slot":           set(wire.TypeFirmware, "slot", -1),
		"firmware size 0":         set(wire.TypeFirmware, "size", 0),
		"firmware bad campaign":   set(wire.TypeFirmware, "campaign", "a b"),
		"firmware zero at":        set(wire.TypeFirmware, "at", "0001-01-01T00:00:00Z"),
		"checkout bad officer":    set(wire.TypeCheckout, "officer", "o 7"),
		"checkout slot 256":       set(wire.TypeCheckout, "slot", 256),
		"checkout zero at":        set(wire.TypeCheckout, "at", "0001-01-01T00:00:00Z"),
		"events none":             set(wire.TypeRecorderEvents, "events", []any{}),
		"events zero docked_at":   set(wire.TypeRecorderEvents, "docked_at", "0001-01-01T00:00:00Z"),
		"events index 0": set(wire.TypeRecorderEvents, "events", []any{map[string]any{"index": 0, "time": "2026-11-25T07:00:00Z",
			"kind": "power-on"}}),
		"events kind": set(wire.TypeRecorderEvents, "events", []any{map[string]any{"index": 1, "time": "2026-11-25T07:00:00Z",
			"kind": "exploded"}}),
		"events detail long": set(wire.TypeRecorderEvents, "events", []any{map[string]any{"index": 1, "time": "2026-11-25T07:00:00Z",
			"kind": "fault", "detail": strings.Repeat("x", 256)}}),
		"docking phase":           set(wire.TypeDocking, "phase", "done"),
		"docking part 0":          set(wire.TypeDocking, "part", 0),
		"docking zero docked_at":  set(wire.TypeDocking, "docked_at", "0001-01-01T00:00:00Z"),
		"docking bad serial":      set(wire.TypeDocking, "serial", "a b"),
		"docking segments object": set(wire.TypeDocking, "segments", map[string]any{}),
		"docking segment no hash": set(wire.TypeDocking, "segments", []any{map[string]any{"seq": 1, "start": "2026-11-25T07:00:00Z",
			"end": "2026-11-25T07:00:00Z", "size": 1, "stop_cause": "user"}}),
		"docking segment cause": set(wire.TypeDocking, "segments", []any{map[string]any{"seq": 1, "start": "2026-11-25T07:00:00Z",
			"end": "2026-11-25T07:00:00Z", "size": 1, "sha256": hash("a"), "stop_cause": "bored"}}),
	}
}

// The schema refuses everything wire refuses (keep them in sync).
func TestSchemaRejectsWhatWireRejects(t *testing.T) {
	v := newValidator(t)
	whole := full(t)
	for name, p := range rejections(t) {
		t.Run(name, func(t *testing.T) {
			if err := wireAccepts(p); err == nil {
				t.Fatalf("wire accepts %s; the case is wrong", p)
			}
			err := v.Validate(p)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("schema accepts what wire rejects (err %v):\n%s", err, p)
			}
			if fullAccepts(t, whole, p) == nil {
				t.Fatalf("envelope.json accepts what wire rejects:\n%s", p)
			}
		})
	}
}

// crossField are the rules only Go checks: README.md lists them. If the
// schema learns one, move it to rejections.
func TestCrossFieldRulesOnlyInGo(t *testing.T) {
	v := newValidator(t)
	cases := map[string][]byte{
		"storage free > total": mutate(t, sample(t, wire.TypeDeviceHealth), func(_, b map[string]any) {
			b["storage"].(map[string]any)["free_bytes"] = int64(1 << 40)
		}),
		"segment end before start": mutate(t, sample(t, wire.TypeSegmentManifest), func(_, b map[string]any) {
			b["end"] = "2020-01-01T00:00:00Z"
		}),
		"receipt names another segment": mutate(t, sample(t, wire.TypeSegmentManifest), func(_, b map[string]any) {
			b["receipt"].(map[string]any)["seq"] = 7
		}),
	}
	whole := full(t)
	for name, p := range cases {
		if fullAccepts(t, whole, p) != nil {
			t.Errorf("%s: envelope.json rejects it, Validator does not", name)
		}
		if err := wireAccepts(p); err == nil {
			t.Errorf("%s: wire accepts", name)
		}
		if err := v.Validate(p); err != nil {
			t.Errorf("%s: schema now rejects it (%v): move it to rejections and README", name, err)
		}
	}
}

func TestNotJSON(t *testing.T) {
	v := newValidator(t)
	for _, p := range []string{"", "{", "nul", `{"v":1}x`} {
		if err := v.Validate([]byte(p)); !errors.Is(err, ErrNotJSON) && !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", p, err)
		}
	}
	if err := v.Validate([]byte(`[1]`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("array: %v", err)
	}
}

func BenchmarkValidate(b *testing.B) {
	v := newValidator(b)
	e, _ := wire.NewEnvelope("m-1", "dock-7", t0, wire.TypeSegmentManifest, samples()[wire.TypeSegmentManifest][0])
	p, _ := e.Marshal()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate(p); err != nil {
			b.Fatal(err)
		}
	}
}
