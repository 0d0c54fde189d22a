// Package schema holds the JSON Schemas (draft 2020-12) of berth v1's MQTT
// payloads: the envelope and every body type of package wire. They are the
// contract for readers outside Go (a vendor's dock firmware, an agency's
// integration). The collector's ingest enforces them without this
// validator: it parses each payload once and checks these schemas' rules and
// wire's on the parsed value (cloud/ingest/validate.go), and its tests hold
// that decoder to this validator and wire's decoder (same verdict, same
// reason, same values, by table over every constraint and by differential
// fuzzing).
//
// The schemas and wire's decoder are kept in sync by this package's tests:
// every body wire produces validates, and every single-field rule wire
// enforces is enforced here too. A few cross-field rules only Go checks
// (README.md lists them), so a message is accepted only when both agree.
package schema

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Files holds the schema documents, one per type plus common.json.
//
//go:embed *.json
var Files embed.FS

// BaseURI is the prefix of every schema's $id.
const BaseURI = "https://github.com/berthdock/berth/cloud/wire/schema/"

// EnvelopeURI is the $id of the envelope schema: the whole message, body
// chosen by type. Validator applies the same rules in two steps (envelope
// core, then the type's body schema), which is cheaper than the envelope's
// chain of if/then.
const EnvelopeURI = BaseURI + "envelope.json"

// coreURI is the envelope's own fields.
const coreURI = EnvelopeURI + "#/$defs/core"

// Errors of validation.
var (
	// ErrInvalid reports a payload that violates the schema.
	ErrInvalid = errors.New("schema: payload violates the berth v1 schema")
	// ErrNotJSON reports a payload that is not a JSON document.
	ErrNotJSON = errors.New("schema: payload is not JSON")
)

// Validator checks payloads against the envelope schema. It is safe for
// concurrent use.
type Validator struct {
	core   *jsonschema.Schema
	bodies map[string]*jsonschema.Schema // by envelope type
}

// New compiles the embedded schemas. Formats (date-time) are asserted, not
// only annotated: wire's decoder refuses a malformed time too.
func New() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	names, err := fs.Glob(Files, "*.json")
	if err != nil {
		return nil, fmt.Errorf("schema: list: %w", err)
	}
	for _, n := range names {
		b, err := Files.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("schema: read %s: %w", n, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schema: parse %s: %w", n, err)
		}
		if err := c.AddResource(BaseURI+n, doc); err != nil {
			return nil, fmt.Errorf("schema: add %s: %w", n, err)
		}
	}
	core, err := c.Compile(coreURI)
	if err != nil {
		return nil, fmt.Errorf("schema: compile: %w", err)
	}
	v := &Validator{core: core, bodies: map[string]*jsonschema.Schema{}}
	for _, n := range names {
		typ := strings.TrimSuffix(n, ".json")
		if typ == "envelope" || typ == "common" {
			continue
		}
		if v.bodies[typ], err = c.Compile(BaseURI + n); err != nil {
			return nil, fmt.Errorf("schema: compile %s: %w", n, err)
		}
	}
	return v, nil
}

// Types lists the message types the schemas describe.
func (v *Validator) Types() []string {
	out := make([]string, 0, len(v.bodies))
	for t := range v.bodies {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Validate checks one payload (an envelope with its body). The error wraps
// ErrNotJSON or ErrInvalid; its text names the failing location.
func (v *Validator) Validate(payload []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotJSON, err)
	}
	return v.ValidateValue(doc)
}

// ValidateValue checks a document already decoded by
// jsonschema.UnmarshalJSON (numbers as json.Number).
func (v *Validator) ValidateValue(doc any) error {
	if err := v.core.Validate(doc); err != nil {
		return invalid("", err)
	}
	env := doc.(map[string]any) // the core schema requires an object
	typ, _ := env["type"].(string)
	body, ok := v.bodies[typ]
	if !ok { // the core's type enum and the files disagree: a packaging bug
		return fmt.Errorf("%w: no schema for type %q", ErrInvalid, typ)
	}
	if err := body.Validate(env["body"]); err != nil {
		return invalid("body", err)
	}
	return nil
}

func invalid(where string, err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if where != "" {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, where, summary(ve))
	}
	return fmt.Errorf("%w: %s", ErrInvalid, summary(ve))
}

// summary is the innermost failure's location and message, on one line and
// bounded: it ends up in logs, and the payload is hostile.
func summary(ve *jsonschema.ValidationError) string {
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	s := strings.ReplaceAll(leaf.Error(), "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
