package ingest

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/schema"
)

// The JSON Schemas of cloud/wire/schema, compiled by hand into tables that
// are checked on the parsed tree while wire's types are filled from it:
// each payload is parsed once and each rule checked once. Two verdicts come
// out of one walk, because a message has always been refused for the first
// of them that fails, with its own reason:
//
//   - the schema's (reason "schema"): exact key names, required fields,
//     types (null is not a string), integers by value (1.0 is one), ranges,
//     patterns, enums, lengths in characters, date-time format; for a
//     repeated key the last one counts;
//   - wire's Go decoder's (reason "invalid_body" for bodies): what
//     encoding/json refuses (an integer written 1.0, a time Go does not
//     parse, an unknown field), what it silently accepts (keys in another
//     letter case, null leaving a field alone) and the rules only Go checks
//     (checks of goRules: cross-field rules, lengths in bytes, times that
//     are Go's zero time in another zone).
//
// schema_test.go (package schema) keeps the schema files and wire's types in
// step; validate_test.go here proves, by table over every constraint of the
// files and by differential fuzzing against the schema validator and
// wire's decoder, that these tables accept exactly what the two accepted
// together, with the same reason.

// fkind is what a property holds.
type fkind uint8

const (
	fString  fkind = iota // a string, length bounds in characters
	fID                   // common.json id
	fOptID                // common.json optionalId
	fSHA                  // common.json sha256
	fOptSHA               // "" or sha256
	fEnum                 // one of enum
	fTime                 // common.json time (date-time)
	fSetTime              // common.json setTime (date-time, not Go's zero time)
	fInt                  // an integer within rng
	fNumber               // any number (Go float64)
	fBool
	fObject    // a nested object (Go struct)
	fOptObject // null or an object of obj (Go: a pointer to obj.typ; manifest receipt, battery measured)
	fStrings   // an array of strings, items bounds
	fObjects   // an array of objects (Go slice of structs), items bounds
	fAnyValue  // no constraint (the envelope's unknown members)
)

// field is one property of an object schema and the Go field it fills.
type field struct {
	name           string
	kind           fkind
	required       bool
	minLen, maxLen int // characters (fString); items (fStrings); 0: none
	rng            intRange
	enum           []string
	obj            *objSpec
	index          int    // Go struct field index
	path           string // for messages: "receipt/seq"
}

// objSpec is an object schema with additionalProperties false, and its Go
// struct type.
type objSpec struct {
	name   string
	typ    reflect.Type
	fields []field
	// when is the schema's if/then (cmd.json): extra checks once the
	// members are known.
	when func(w *walker, members *[maxFields]int32) error
}

const maxFields = 24

func str(name string, required bool, maxLen int) field {
	return field{name: name, kind: fString, required: required, maxLen: maxLen}
}
func str2(name string, required bool, minLen, maxLen int) field {
	return field{name: name, kind: fString, required: required, minLen: minLen, maxLen: maxLen}
}
func kind(name string, k fkind, required bool) field {
	return field{name: name, kind: k, required: required}
}
func integer(name string, r intRange, required bool) field {
	return field{name: name, kind: fInt, required: required, rng: r}
}
func enum(name string, required bool, vals ...string) field {
	return field{name: name, kind: fEnum, required: required, enum: vals}
}
func object(name string, o *objSpec, required bool) field {
	return field{name: name, kind: fObject, required: required, obj: o}
}

// The body schemas, property by property as in the files.
var (
	receiptSpec = &objSpec{name: "receipt", typ: reflect.TypeFor[wire.Receipt](), fields: []field{
		str("object", true, 0), str("device", true, 0), integer("seq", rangeUint64, true), str("sha256", true, 0),
		integer("size", rangeInt, true), kind("stored_at", fTime, true), str("key_id", true, 0), str("sig", true, 0)}}

	batterySpec = &objSpec{name: "battery", typ: reflect.TypeFor[wire.Battery](), fields: []field{
		integer("mv", rangeInt, true), integer("percent", rangePercent, true), integer("health_pct", rangePercent, true),
		integer("cycles", rangeInt, true), kind("temperature_c", fNumber, true), kind("charging", fBool, true),
		{name: "measured", kind: fOptObject, obj: measuredSpec}}}

	measuredSpec = &objSpec{name: "measured", typ: reflect.TypeFor[wire.MeasuredCapacity](), fields: []field{
		integer("mah", rangeMilliAmpHours, true), integer("design_mah", rangeDesignMilliAmpHours, false),
		integer("pct", rangeMeasuredPct, false), integer("from_pct", rangePercent, true), integer("to_pct", rangePercent, true),
		kind("at", fSetTime, true)}}

	proofSpec = &objSpec{name: "proof", typ: reflect.TypeFor[wire.AuthProof](), fields: []field{
		kind("at", fSetTime, true), str("salt", true, wire.MaxProofSalt), str("sig", true, wire.MaxProofSig)}}

	inventorySpec = &objSpec{name: "segment", typ: reflect.TypeFor[wire.InventoryEntry](), fields: []field{
		integer("seq", rangeUint64, true), kind("start", fTime, true), kind("end", fTime, true),
		integer("size", rangeCount, true), kind("sha256", fSHA, true),
		enum("stop_cause", true, "auto-split", "user", "low-battery", "storage-full", "fault", "power-loss", "unknown")}}

	eventSpec = &objSpec{name: "event", typ: reflect.TypeFor[wire.RecorderEvent](), fields: []field{
		integer("index", rangeIndex, true), kind("time", fTime, true),
		enum("kind", true, "power-on", "power-off", "record-start", "record-stop", "button-mark", "low-battery",
			"storage-full", "fault", "clock-set", "docked", "undocked", "released", "unknown"),
		integer("seq", rangeUint64, false), str("detail", false, wire.MaxEventDetail)}}

	refusalSpec = &objSpec{name: "refusal", typ: reflect.TypeFor[wire.Refusal](), fields: []field{
		{name: "id", kind: fString, required: true, minLen: 1}, str("reason", true, 1024)}}

	storageSpec = &objSpec{name: "storage", typ: reflect.TypeFor[wire.Storage](), fields: []field{
		integer("total_bytes", rangeCount, true), integer("free_bytes", rangeCount, true), integer("health_pct", rangeInt, true),
		integer("read_errors", rangeInt, true), integer("write_errors", rangeInt, true), integer("bad_blocks", rangeInt, true)}}

	bodySpecs = map[string]*objSpec{
		wire.TypeDockState: {name: wire.TypeDockState, typ: reflect.TypeFor[wire.DockState](), fields: []field{
			enum("state", true, "online", "offline"), str("version", false, 0), integer("slots", rangeCount, true),
			integer("buffer_bytes", rangeCount, true), integer("buffer_capacity", rangeCount, true),
			integer("backlog_segments", rangeCount, true), integer("backlog_bytes", rangeCount, true),
			kind("oldest_backlog", fTime, false)}},

		wire.TypeSlotState: {name: wire.TypeSlotState, typ: reflect.TypeFor[wire.SlotState](), fields: []field{
			integer("slot", rangeSlot, true),
			enum("state", true, "empty", "present", "identified", "inventoried", "copying", "buffered", "uploaded", "released", "ready", "fault"),
			kind("serial", fOptID, false), str("fault", false, 0), str("detail", false, 0),
			integer("segments", rangeCount, true), integer("copied", rangeCount, true), integer("uploaded", rangeCount, true),
			integer("released", rangeCount, true), integer("bytes_total", rangeCount, true), integer("bytes_copied", rangeCount, true),
			kind("charging", fBool, true)}},

		wire.TypeDeviceHealth: {name: wire.TypeDeviceHealth, typ: reflect.TypeFor[wire.DeviceHealth](), fields: []field{
			kind("serial", fID, true), str("model", false, 0), str("firmware", true, 0), kind("officer", fOptID, false),
			kind("unit", fOptID, false), integer("slot", rangeInt, true), kind("docked_at", fSetTime, true),
			object("battery", batterySpec, true), object("storage", storageSpec, true), kind("recording", fBool, true),
			kind("device_clock", fTime, true), kind("dock_clock", fSetTime, true), integer("clock_offset_ms", rangeInt, true),
			kind("clock_set", fBool, true)}},

		wire.TypeSegmentManifest: {name: wire.TypeSegmentManifest, typ: reflect.TypeFor[wire.SegmentManifest](), fields: []field{
			kind("serial", fID, true), integer("seq", rangeUint64, true), kind("start", fTime, true), kind("end", fTime, true),
			integer("size", rangeCount, true), kind("sha256", fSHA, true), kind("computed", fOptSHA, false),
			enum("stop_cause", true, "auto-split", "user", "low-battery", "storage-full", "fault", "power-loss", "unknown"),
			kind("officer", fOptID, false), str("case_tag", false, 128), str("media", false, 256),
			integer("clock_offset_ms", rangeInt, true), kind("clock_synced_at", fTime, true),
			enum("state", true, "buffered", "uploaded", "released", "fault"), str("fault", false, 0),
			{name: "receipt", kind: fOptObject, obj: receiptSpec}, kind("follows_interruption", fBool, false),
			enum("time_source", false, "device", "file")}},

		wire.TypeAuditRecord: {name: wire.TypeAuditRecord, typ: reflect.TypeFor[wire.AuditRecord](), fields: []field{
			integer("index", rangeUint64, true), kind("time", fSetTime, true),
			{name: "action", kind: fString, required: true, minLen: 1, maxLen: 64}, integer("slot", rangeInt, true),
			kind("serial", fOptID, false), integer("seq", rangeUint64, false), str("detail", false, 4096),
			{name: "proof", kind: fOptObject, obj: proofSpec}, kind("prev", fSHA, true), kind("hash", fSHA, true)}},

		wire.TypeAck: {name: wire.TypeAck, typ: reflect.TypeFor[wire.Ack](), fields: []field{
			{name: "ids", kind: fStrings, required: true, minLen: 0, maxLen: 10000},
			{name: "refused", kind: fObjects, maxLen: 10000, obj: refusalSpec}},
			when: ackAnyOf},

		wire.TypeDocking: {name: wire.TypeDocking, typ: reflect.TypeFor[wire.Docking](), fields: []field{
			kind("serial", fID, true), kind("docked_at", fSetTime, true), enum("phase", true, "inventory", "complete"),
			integer("last_seq", rangeUint64, true), kind("recording", fBool, true),
			integer("part", rangePart, true), integer("parts", rangePart, true),
			{name: "segments", kind: fObjects, maxLen: wire.MaxInventoryPart, obj: inventorySpec},
			integer("copied", rangeCount, false)}},

		wire.TypeFirmware: {name: wire.TypeFirmware, typ: reflect.TypeFor[wire.FirmwareProgress](), fields: []field{
			kind("campaign", fID, true), kind("serial", fID, true), integer("slot", rangeFwSlot, true),
			str2("model", true, 1, 255), str2("version", true, 1, 255), str("running", false, 255),
			enum("state", true, "transferring", "rebooting", "installed", "rolled-back", "rejected", "refused", "failed"),
			integer("held", rangeCount, true), integer("size", rangeSize, true), str("detail", false, 1024),
			kind("at", fSetTime, true)}},
		wire.TypeRecorderEvents: {name: wire.TypeRecorderEvents, typ: reflect.TypeFor[wire.RecorderEvents](), fields: []field{
			kind("serial", fID, true), kind("docked_at", fSetTime, true),
			{name: "events", kind: fObjects, required: true, minLen: 1, maxLen: wire.MaxEventsPart, obj: eventSpec}}},

		wire.TypeCheckout: {name: wire.TypeCheckout, typ: reflect.TypeFor[wire.Checkout](), fields: []field{
			kind("serial", fID, true), kind("officer", fID, true), integer("slot", rangeSlot, true), kind("at", fSetTime, true)}},

		wire.TypeCommand: {name: wire.TypeCommand, typ: reflect.TypeFor[wire.Command](), fields: []field{
			enum("action", true, "power-cycle", "refresh", "release-hole"), integer("slot", rangeInt, false), str("by", false, 0),
			str("serial", false, 0), integer("from", rangeUint64, false), integer("to", rangeUint64, false),
			str("reason", false, wire.MaxReason)},
			when: commandIfThen},
	}
)

// ackAnyOf is ack.json's anyOf: at least one id or one refusal.
func ackAnyOf(w *walker, members *[maxFields]int32) error {
	ids, refused := members[0], members[1]
	if ids >= 0 && w.t.nodes[ids].n > 0 || refused >= 0 && w.t.nodes[refused].n > 0 {
		return nil
	}
	return fmt.Errorf("ack: names no id and no refusal")
}

// commandIfThen is cmd.json's if/then: a power-cycle's slot is 0..255.
func commandIfThen(w *walker, members *[maxFields]int32) error {
	action, slot := members[0], members[1]
	if action >= 0 && !(w.t.nodes[action].kind == nString && w.t.keyIs(action, wire.CmdPowerCycle)) {
		return nil // "if" fails: no "then"
	}
	if slot >= 0 && !(w.t.nodes[slot].kind == nNumber && schemaInt(w.t.rawStr(slot), rangeSlot)) {
		return fmt.Errorf("slot: power-cycle needs a slot in 0..255")
	}
	return nil
}

// bind finds each field's Go struct field by its json name and checks that
// its type is one the kind fills: a mismatch is a programming error, found
// by NewDecoder (and the tests) rather than by a message.
func (o *objSpec) bind() error {
	if len(o.fields) > maxFields {
		return fmt.Errorf("ingest: %s: more than %d fields", o.name, maxFields)
	}
	byName := map[string]reflect.StructField{}
	for i := range o.typ.NumField() {
		f := o.typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			byName[name] = f
		}
	}
	if len(byName) != len(o.fields) {
		return fmt.Errorf("ingest: %s: %d schema properties, %d Go fields", o.name, len(o.fields), len(byName))
	}
	for i := range o.fields {
		f := &o.fields[i]
		sf, ok := byName[f.name]
		if !ok {
			return fmt.Errorf("ingest: %s: no Go field for %q", o.name, f.name)
		}
		f.index = sf.Index[0]
		f.path = o.name + "/" + f.name
		t := sf.Type
		var good bool
		switch f.kind {
		case fString, fID, fOptID, fSHA, fOptSHA, fEnum:
			good = t.Kind() == reflect.String
		case fTime, fSetTime:
			good = t == reflect.TypeFor[time.Time]()
		case fInt:
			good = t.Kind() == reflect.Int || t.Kind() == reflect.Int64 || t.Kind() == reflect.Uint64
		case fNumber:
			good = t.Kind() == reflect.Float64
		case fBool:
			good = t.Kind() == reflect.Bool
		case fObject:
			good = t == f.obj.typ
		case fOptObject:
			good = t == reflect.PointerTo(f.obj.typ)
		case fStrings:
			good = t == reflect.TypeFor[[]string]()
		case fObjects:
			good = t == reflect.SliceOf(f.obj.typ)
		}
		if !good {
			return fmt.Errorf("ingest: %s.%s: Go type %s does not hold kind %d", o.name, f.name, t, f.kind)
		}
	}
	return nil
}

func bindSpecs() error {
	for _, o := range []*objSpec{receiptSpec, measuredSpec, batterySpec, storageSpec, inventorySpec, refusalSpec, eventSpec, proofSpec} {
		if err := o.bind(); err != nil {
			return err
		}
	}
	for _, o := range bodySpecs {
		if err := o.bind(); err != nil {
			return err
		}
	}
	return nil
}

// walker checks one tree. goErr is the first thing wire's Go decoder would
// have refused; schema failures are returned by each call.
type walker struct {
	t     *tree
	goErr error
}

func (w *walker) goFail(format string, a ...any) {
	if w.goErr == nil {
		w.goErr = fmt.Errorf("%w: "+format, append([]any{wire.ErrMalformed}, a...)...)
	}
}

// object checks node i against o and decodes it into dst (a struct of
// o.typ) the way encoding/json would; it returns the schema's verdict.
func (w *walker) object(o *objSpec, i int32, dst reflect.Value, path string) error {
	nd := &w.t.nodes[i]
	if nd.kind != nObject {
		if nd.kind != nNull { // Go: null leaves a struct alone
			w.goFail("%s: %s into an object", path, nd.kind)
		}
		return fmt.Errorf("%s: got %s, want object", path, nd.kind)
	}
	var last [maxFields]int32 // each property's last exact member, -1 if none
	var errs [maxFields]error // its verdict
	for k := range o.fields {
		last[k] = -1
	}
	var extra error
	for c := i + 1; c < nd.next; {
		key, val := c, w.t.nodes[c].next
		c = w.t.nodes[val].next
		k, exact := o.lookup(w.t, key)
		if k < 0 {
			w.goFail("%s: unknown field %q", path, short(w.t.str(key)))
			if extra == nil {
				extra = fmt.Errorf("%s: additional property %q not allowed", path, short(w.t.str(key)))
			}
			continue
		}
		f := &o.fields[k]
		err := w.value(f, val, dst.Field(f.index), f.path)
		if exact {
			last[k], errs[k] = val, err
		} else if extra == nil {
			extra = fmt.Errorf("%s: additional property %q not allowed", path, short(w.t.str(key)))
		}
	}
	for k := range o.fields {
		f := &o.fields[k]
		if last[k] < 0 && f.required {
			return fmt.Errorf("%s: missing property %q", path, f.name)
		}
	}
	if extra != nil {
		return extra
	}
	for k := range o.fields {
		if errs[k] != nil {
			return errs[k]
		}
	}
	if o.when != nil {
		return o.when(w, &last)
	}
	return nil
}

// lookup finds the property a key names: exactly (the schema's view), or
// in another letter case (encoding/json's view only: Unicode folding, as
// strings.EqualFold).
func (o *objSpec) lookup(t *tree, key int32) (int, bool) {
	for k := range o.fields {
		if t.keyIs(key, o.fields[k].name) {
			return k, true
		}
	}
	s := t.str(key)
	for k := range o.fields {
		if strings.EqualFold(s, o.fields[k].name) {
			return k, false
		}
	}
	return -1, false
}

// value checks one member's value against f and stores it into dst as
// encoding/json would.
func (w *walker) value(f *field, v int32, dst reflect.Value, path string) error {
	nd := &w.t.nodes[v]
	want := func(what string) error { return fmt.Errorf("%s: got %s, want %s", path, nd.kind, what) }
	switch f.kind {
	case fString, fID, fOptID, fSHA, fOptSHA, fEnum:
		if nd.kind != nString {
			if nd.kind != nNull {
				w.goFail("%s: %s into a string", path, nd.kind)
			}
			return want("string")
		}
		s := w.t.str(v)
		dst.SetString(s)
		return checkString(f, s, path)
	case fTime, fSetTime:
		if nd.kind == nNull {
			return want("string") // Go: Time.UnmarshalJSON ignores null
		}
		var tm time.Time
		if err := tm.UnmarshalJSON(w.t.raw(v)); err != nil {
			w.goFail("%s: %v", path, err)
		} else {
			*dst.Addr().Interface().(*time.Time) = tm
		}
		if nd.kind != nString {
			return want("string")
		}
		s := w.t.str(v)
		if !dateTime(s) {
			return fmt.Errorf("%s: %q is not a valid date-time", path, short(s))
		}
		if f.kind == fSetTime && zeroTime(s) {
			return fmt.Errorf("%s: %q is Go's zero time", path, short(s))
		}
		return nil
	case fInt:
		if nd.kind != nNumber {
			if nd.kind != nNull {
				w.goFail("%s: %s into an integer", path, nd.kind)
			}
			return want("integer")
		}
		raw := w.t.rawStr(v)
		w.setInt(dst, raw, path)
		if !schemaInt(raw, f.rng) {
			return fmt.Errorf("%s: %s is not an integer in range", path, short(raw))
		}
		return nil
	case fNumber:
		if nd.kind != nNumber {
			if nd.kind != nNull {
				w.goFail("%s: %s into a number", path, nd.kind)
			}
			return want("number")
		}
		x, err := strconv.ParseFloat(w.t.rawStr(v), 64)
		if err != nil {
			w.goFail("%s: number %s out of range", path, short(w.t.rawStr(v)))
		} else {
			dst.SetFloat(x)
		}
		return nil
	case fBool:
		switch nd.kind {
		case nTrue, nFalse:
			dst.SetBool(nd.kind == nTrue)
			return nil
		case nNull:
		default:
			w.goFail("%s: %s into a bool", path, nd.kind)
		}
		return want("boolean")
	case fObject:
		return w.object(f.obj, v, dst, path)
	case fOptObject:
		if nd.kind == nNull {
			dst.SetZero() // Go: null sets a pointer to nil
			return nil
		}
		if nd.kind != nObject {
			w.goFail("%s: %s into an object", path, nd.kind)
			return want("null or object")
		}
		if dst.IsNil() {
			dst.Set(reflect.New(f.obj.typ))
		}
		return w.object(f.obj, v, dst.Elem(), path)
	case fStrings:
		return w.strings(f, v, dst, path)
	case fObjects:
		return w.objects(f, v, dst, path)
	}
	return nil
}

// objects checks an array of objects and decodes it as encoding/json does
// into a fresh slice: null sets the slice to nil, a null element leaves a
// zero element.
func (w *walker) objects(f *field, v int32, dst reflect.Value, path string) error {
	nd := &w.t.nodes[v]
	switch nd.kind {
	case nNull:
		dst.SetZero()
		return fmt.Errorf("%s: got null, want array", path)
	case nArray:
	default:
		w.goFail("%s: %s into an array", path, nd.kind)
		return fmt.Errorf("%s: got %s, want array", path, nd.kind)
	}
	out := reflect.MakeSlice(dst.Type(), int(nd.n), int(nd.n))
	var serr error
	for c, k := v+1, 0; c < nd.next; c, k = w.t.nodes[c].next, k+1 {
		p := path + "/" + strconv.Itoa(k)
		if err := w.object(f.obj, c, out.Index(k), p); err != nil && serr == nil {
			serr = err
		}
	}
	dst.Set(out)
	if int(nd.n) < f.minLen || f.maxLen > 0 && int(nd.n) > f.maxLen {
		return fmt.Errorf("%s: %d items, want %d..%d", path, nd.n, f.minLen, f.maxLen)
	}
	return serr
}

// setInt stores an integer literal as encoding/json does (ParseInt or
// ParseUint of the literal: 1.0 and 1e2 are refused).
func (w *walker) setInt(dst reflect.Value, s string, path string) {
	switch dst.Kind() {
	case reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			w.goFail("%s: cannot decode number %s into uint64", path, short(s))
			return
		}
		dst.SetUint(n)
	default:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || dst.OverflowInt(n) {
			w.goFail("%s: cannot decode number %s into %s", path, short(s), dst.Type())
			return
		}
		dst.SetInt(n)
	}
}

func (w *walker) strings(f *field, v int32, dst reflect.Value, path string) error {
	nd := &w.t.nodes[v]
	switch nd.kind {
	case nNull:
		dst.SetZero()
		return fmt.Errorf("%s: got null, want array", path)
	case nArray:
	default:
		w.goFail("%s: %s into an array", path, nd.kind)
		return fmt.Errorf("%s: got %s, want array", path, nd.kind)
	}
	old := dst.Interface().([]string)
	out := make([]string, 0, nd.n)
	var serr error
	for c, k := v+1, 0; c < nd.next; c, k = w.t.nodes[c].next, k+1 {
		e := ""
		if k < len(old) {
			e = old[k] // encoding/json decodes into the existing element
		}
		switch w.t.nodes[c].kind {
		case nString:
			e = w.t.str(c)
		case nNull:
			if serr == nil {
				serr = fmt.Errorf("%s/%d: got null, want string", path, k)
			}
		default:
			w.goFail("%s/%d: %s into a string", path, k, w.t.nodes[c].kind)
			if serr == nil {
				serr = fmt.Errorf("%s/%d: got %s, want string", path, k, w.t.nodes[c].kind)
			}
		}
		out = append(out, e)
	}
	dst.Set(reflect.ValueOf(out))
	if int(nd.n) < f.minLen || int(nd.n) > f.maxLen {
		return fmt.Errorf("%s: %d items, want %d..%d", path, nd.n, f.minLen, f.maxLen)
	}
	return serr
}

func checkString(f *field, s, path string) error {
	switch f.kind {
	case fString:
		if f.minLen > 0 || f.maxLen > 0 {
			n := utf8.RuneCountInString(s)
			if n < f.minLen || f.maxLen > 0 && n > f.maxLen {
				return fmt.Errorf("%s: length %d characters, want %d..%d", path, n, f.minLen, f.maxLen)
			}
		}
	case fID:
		if !validID(s) {
			return fmt.Errorf("%s: %q is not an id", path, short(s))
		}
	case fOptID:
		if s != "" && !validID(s) {
			return fmt.Errorf("%s: %q is neither empty nor an id", path, short(s))
		}
	case fSHA:
		if !validSHA(s) {
			return fmt.Errorf("%s: %q is not a lower-case hex SHA-256", path, short(s))
		}
	case fOptSHA:
		if s != "" && !validSHA(s) {
			return fmt.Errorf("%s: %q is neither empty nor a lower-case hex SHA-256", path, short(s))
		}
	case fEnum:
		for _, e := range f.enum {
			if s == e {
				return nil
			}
		}
		return fmt.Errorf("%s: %q is not one of %v", path, short(s), f.enum)
	}
	return nil
}

// short bounds a hostile value quoted in an error.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// goRules are the checks wire's Validate methods make that the schema does
// not: cross-field rules, lengths in bytes, and times that are Go's zero
// instant written in another zone. (Every other rule of Validate is a
// schema rule, checked above, once.)
func goRules(b wire.Body) error {
	switch b := b.(type) {
	case *wire.DeviceHealth:
		if b.Storage.FreeBytes > b.Storage.TotalBytes {
			return fmt.Errorf("%w: storage bytes out of range", wire.ErrInvalid)
		}
		if b.DockedAt.IsZero() || b.DockClock.IsZero() {
			return fmt.Errorf("%w: missing docked_at or dock_clock", wire.ErrInvalid)
		}
	case *wire.SegmentManifest:
		if b.End.Before(b.Start) {
			return fmt.Errorf("%w: end %s before start %s", wire.ErrInvalid, b.End, b.Start)
		}
		if len(b.CaseTag) > 128 || len(b.Media) > 256 {
			return fmt.Errorf("%w: case tag or media too long", wire.ErrInvalid)
		}
		if r := b.Receipt; r != nil && (r.SHA256 != b.SHA256 || r.Seq != b.Seq || r.Device != b.Serial) {
			return fmt.Errorf("%w: receipt does not name this segment", wire.ErrInvalid)
		}
	case *wire.Ack:
		if n := len(b.IDs) + len(b.Refused); n > 10000 {
			return fmt.Errorf("%w: ack with %d ids", wire.ErrInvalid, n)
		}
	case *wire.Docking:
		// wire.Docking.Validate's cross-field rules.
		if b.DockedAt.IsZero() {
			return fmt.Errorf("%w: missing docked_at", wire.ErrInvalid)
		}
		if err := b.Validate(); err != nil {
			return err
		}
	case *wire.FirmwareProgress:
		// wire.FirmwareProgress.Validate's cross-field and byte-length rules.
		if err := b.Validate(); err != nil {
			return err
		}
	case *wire.Checkout:
		if b.At.IsZero() { // Go's zero time in another zone
			return fmt.Errorf("%w: missing at", wire.ErrInvalid)
		}
	case *wire.RecorderEvents:
		// wire.RecorderEvents.Validate's cross-field rules (ascending
		// indexes) and Go's zero time in another zone.
		if b.DockedAt.IsZero() {
			return fmt.Errorf("%w: missing docked_at", wire.ErrInvalid)
		}
		if err := b.Validate(); err != nil {
			return err
		}
	case *wire.AuditRecord:
		if len(b.Action) > 64 || len(b.Detail) > 4096 {
			return fmt.Errorf("%w: audit action or detail", wire.ErrInvalid)
		}
		if b.Time.IsZero() {
			return fmt.Errorf("%w: audit time missing", wire.ErrInvalid)
		}
		if p := b.Proof; p != nil && (p.At.IsZero() || len(p.Salt) > wire.MaxProofSalt || len(p.Signature) > wire.MaxProofSig) {
			return fmt.Errorf("%w: audit proof time, salt or sig", wire.ErrInvalid)
		}
	}
	return nil
}

// --- the envelope -----------------------------------------------------------

// Envelope members, in envelope.json's order.
const (
	eV = iota
	eID
	eDock
	eTime
	eType
	eBody
	eN
)

var envNames = [eN]string{"v", "id", "dock", "time", "type", "body"}

// decodeTree checks a parsed payload and returns its envelope and body, or
// the reason it is refused. The order of reasons is wire's decoder's
// (envelope fields as Go reads them: version, then the fields, then the
// type), then the schema, then wire's body decoding and rules.
func decodeTree(t *tree) (wire.Envelope, wire.Body, *Rejection) {
	w := walker{t: t}
	var env wire.Envelope
	root := &t.nodes[0]
	schemaRoot := error(nil)
	var exact [eN]int32 // the schema's view: last member named exactly
	goBody := int32(-1) // Go's view: last member named in any letter case
	for k := range exact {
		exact[k] = -1
	}
	switch root.kind {
	case nObject:
		for c := int32(1); c < root.next; {
			key, val := c, t.nodes[c].next
			c = t.nodes[val].next
			k, isExact := envLookup(t, key)
			if k < 0 {
				continue // unknown envelope members are allowed, and skipped
			}
			if isExact {
				exact[k] = val
			}
			w.envGo(&env, k, val, &goBody)
		}
	case nNull:
		// Go decodes null into the zero envelope: version 0.
	default:
		w.goFail("payload is a JSON %s, not an object", root.kind)
		schemaRoot = fmt.Errorf("got %s, want object", root.kind)
	}
	if w.goErr != nil {
		return env, nil, reject(ReasonSchema, w.goErr)
	}
	switch {
	case env.V != wire.SchemaVersion:
		return env, nil, reject(ReasonVersion, fmt.Errorf("%w: v=%d", wire.ErrVersion, env.V))
	case env.ID == "" || len(env.ID) > 128:
		return env, nil, reject(ReasonSchema, fmt.Errorf("%w: id length %d", wire.ErrMalformed, len(env.ID)))
	}
	if err := wire.ValidID(env.Dock); err != nil {
		return env, nil, reject(ReasonSchema, fmt.Errorf("%w: dock: %w", wire.ErrMalformed, err))
	}
	if env.Time.IsZero() {
		return env, nil, reject(ReasonSchema, fmt.Errorf("%w: missing time", wire.ErrMalformed))
	}
	goSpec, ok := bodySpecs[env.Type]
	if !ok {
		return env, nil, reject(ReasonUnknownType, fmt.Errorf("%w: %q", wire.ErrUnknownType, short(env.Type)))
	}
	if goBody < 0 || t.nodes[goBody].kind == nNull {
		return env, nil, reject(ReasonSchema, fmt.Errorf("%w: missing body", wire.ErrMalformed))
	}
	if schemaRoot != nil {
		return env, nil, schemaRejection(schemaRoot)
	}
	schSpec, err := envSchema(t, &exact)
	if err != nil {
		return env, nil, schemaRejection(err)
	}

	// The body: one walk when the schema and Go read the same member as
	// the same type (always, but for keys repeated in another case).
	body := reflect.New(goSpec.typ)
	rules := goRules
	if schSpec == goSpec && exact[eBody] == goBody {
		if err := w.object(goSpec, goBody, body.Elem(), "body"); err != nil {
			return env, nil, schemaRejection(err)
		}
	} else {
		// A hostile envelope repeating "type" or "body" in another letter
		// case: the schema judged one member, Go decodes another, which
		// then meets all of wire's rules (its Validate), as before.
		if err := (&walker{t: t}).object(schSpec, exact[eBody], reflect.New(schSpec.typ).Elem(), "body"); err != nil {
			return env, nil, schemaRejection(err)
		}
		_ = w.object(goSpec, goBody, body.Elem(), "body") // this member's schema verdict is not the schema's
		rules = wire.Body.Validate
	}
	if w.goErr != nil {
		return env, nil, reject(ReasonInvalid, fmt.Errorf("%s body: %w", env.Type, w.goErr))
	}
	b := body.Interface().(wire.Body)
	if err := rules(b); err != nil {
		return env, nil, reject(ReasonInvalid, fmt.Errorf("%w: %s body: %w", wire.ErrMalformed, env.Type, err))
	}
	nd := &t.nodes[goBody]
	env.Body = t.data[nd.start:nd.end:nd.end]
	return env, b, nil
}

func schemaRejection(err error) *Rejection {
	return reject(ReasonSchema, fmt.Errorf("%w: %w", schema.ErrInvalid, err))
}

func envLookup(t *tree, key int32) (int, bool) {
	for k, n := range envNames {
		if t.keyIs(key, n) {
			return k, true
		}
	}
	s := t.str(key)
	for k, n := range envNames {
		if strings.EqualFold(s, n) {
			return k, false
		}
	}
	return -1, false
}

// envGo stores one envelope member as encoding/json does into
// wire.Envelope (null leaves a field alone; a type mismatch is an error).
func (w *walker) envGo(env *wire.Envelope, k int, v int32, body *int32) {
	nd := &w.t.nodes[v]
	name := envNames[k]
	switch k {
	case eV:
		switch nd.kind {
		case nNumber:
			n, err := strconv.ParseInt(w.t.rawStr(v), 10, 64)
			if err != nil || n > math.MaxInt || n < math.MinInt {
				w.goFail("v: cannot decode number %s into int", short(w.t.rawStr(v)))
				return
			}
			env.V = int(n)
		case nNull:
		default:
			w.goFail("v: %s into an int", nd.kind)
		}
	case eID, eDock, eType:
		switch nd.kind {
		case nString:
			s := w.t.str(v)
			switch k {
			case eID:
				env.ID = s
			case eDock:
				env.Dock = s
			default:
				env.Type = s
			}
		case nNull:
		default:
			w.goFail("%s: %s into a string", name, nd.kind)
		}
	case eTime:
		if err := env.Time.UnmarshalJSON(w.t.raw(v)); err != nil {
			w.goFail("time: %v", err)
		}
	case eBody:
		*body = v
	}
}

// envSchema checks envelope.json's $defs/core on the members the schema
// sees and returns the body schema its type selects.
func envSchema(t *tree, exact *[eN]int32) (*objSpec, error) {
	for k, i := range exact {
		if i < 0 {
			return nil, fmt.Errorf("missing property %q", envNames[k])
		}
	}
	isStr := func(k int) (string, bool) {
		i := exact[k]
		if t.nodes[i].kind != nString {
			return "", false
		}
		return t.str(i), true
	}
	if v := exact[eV]; t.nodes[v].kind != nNumber || !isOne(t.rawStr(v)) {
		return nil, errors.New("v: value must be 1")
	}
	if id, ok := isStr(eID); !ok || id == "" || utf8.RuneCountInString(id) > 128 {
		return nil, errors.New("id: want a string of 1..128 characters")
	}
	if dock, ok := isStr(eDock); !ok || !validID(dock) {
		return nil, errors.New("dock: not an id")
	}
	if tm, ok := isStr(eTime); !ok || !dateTime(tm) || zeroTime(tm) {
		return nil, errors.New("time: not a set date-time")
	}
	typ, ok := isStr(eType)
	spec := bodySpecs[typ]
	if !ok || spec == nil {
		return nil, errors.New("type: not a berth v1 message type")
	}
	if t.nodes[exact[eBody]].kind != nObject {
		return nil, fmt.Errorf("body: got %s, want object", t.nodes[exact[eBody]].kind)
	}
	return spec, nil
}
