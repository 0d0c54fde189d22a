package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The payload is tokenized once, into a flat tree of nodes that point into
// it; the checks of the JSON Schema and wire's Go rules then walk that tree
// and fill wire's types from it (validate.go). Nothing parses the bytes a
// second time.

// errSyntax reports a payload that is not one JSON document. Its grammar is
// encoding/json's (RFC 8259, nesting at most 10,000 deep, invalid UTF-8
// inside strings allowed and replaced), so the same payloads are refused as
// wire's decoder refused.
var errSyntax = errors.New("ingest: not a JSON document")

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

type nodeKind uint8

const (
	nNull nodeKind = iota
	nFalse
	nTrue
	nNumber
	nString
	nObject
	nArray
)

func (k nodeKind) String() string {
	return [...]string{"null", "false", "true", "number", "string", "object", "array"}[k]
}

// node is one JSON value: [start, end) is its text (a string's includes the
// quotes); next is the index of the node after its subtree. An object's
// children are key, value, key, value...; n counts an array's elements or
// an object's members.
type node struct {
	kind       nodeKind
	plain      bool // string: no escapes and valid UTF-8: its text is its value
	start, end int32
	next       int32
	n          int32
}

// tree is a parsed payload.
type tree struct {
	data  []byte
	text  string // data as a string, once: string values are slices of it
	nodes []node
}

func (t *tree) reset(data []byte) {
	t.data = data
	t.text = ""
	t.nodes = t.nodes[:0]
}

// parse tokenizes data, which must hold exactly one JSON value.
func (t *tree) parse(data []byte) error {
	t.reset(data)
	p := parser{t: t, data: data}
	p.ws()
	if err := p.value(0); err != nil {
		return err
	}
	p.ws()
	if p.i != len(data) {
		return p.fail("after top-level value")
	}
	return nil
}

type parser struct {
	t    *tree
	data []byte
	i    int
}

func (p *parser) fail(what string) error {
	if p.i >= len(p.data) {
		return fmt.Errorf("%w: unexpected end of input", errSyntax)
	}
	return fmt.Errorf("%w: invalid character %q %s at offset %d", errSyntax, p.data[p.i], what, p.i)
}

func (p *parser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) push(k nodeKind) int {
	p.t.nodes = append(p.t.nodes, node{kind: k, start: int32(p.i)})
	return len(p.t.nodes) - 1
}

func (p *parser) close(idx int) {
	nd := &p.t.nodes[idx]
	nd.end = int32(p.i)
	nd.next = int32(len(p.t.nodes))
}

func (p *parser) value(depth int) error {
	if p.i >= len(p.data) {
		return p.fail("")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return p.literal("true", nTrue)
	case c == 'f':
		return p.literal("false", nFalse)
	case c == 'n':
		return p.literal("null", nNull)
	default:
		return p.fail("looking for beginning of value")
	}
}

func (p *parser) literal(lit string, k nodeKind) error {
	idx := p.push(k)
	for j := 0; j < len(lit); j++ {
		if p.i >= len(p.data) || p.data[p.i] != lit[j] {
			return p.fail("in literal " + lit)
		}
		p.i++
	}
	p.close(idx)
	return nil
}

func (p *parser) object(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: exceeded max depth", errSyntax)
	}
	idx := p.push(nObject)
	p.i++ // {
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		p.close(idx)
		return nil
	}
	n := int32(0)
	for {
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return p.fail("looking for beginning of object key string")
		}
		if err := p.str(); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return p.fail("after object key")
		}
		p.i++
		p.ws()
		if err := p.value(depth); err != nil {
			return err
		}
		n++
		p.ws()
		if p.i >= len(p.data) {
			return p.fail("")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.ws()
		case '}':
			p.i++
			p.close(idx)
			p.t.nodes[idx].n = n
			return nil
		default:
			return p.fail("after object key:value pair")
		}
	}
}

func (p *parser) array(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: exceeded max depth", errSyntax)
	}
	idx := p.push(nArray)
	p.i++ // [
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		p.close(idx)
		return nil
	}
	n := int32(0)
	for {
		if err := p.value(depth); err != nil {
			return err
		}
		n++
		p.ws()
		if p.i >= len(p.data) {
			return p.fail("")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.ws()
		case ']':
			p.i++
			p.close(idx)
			p.t.nodes[idx].n = n
			return nil
		default:
			return p.fail("after array element")
		}
	}
}

func (p *parser) str() error {
	idx := p.push(nString)
	p.i++ // "
	plain, ascii := true, true
	for {
		if p.i >= len(p.data) {
			return p.fail("in string literal")
		}
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			p.close(idx)
			if !ascii && plain {
				nd := &p.t.nodes[idx]
				plain = utf8.Valid(p.data[nd.start+1 : nd.end-1])
			}
			p.t.nodes[idx].plain = plain
			return nil
		case c == '\\':
			plain = false
			p.i++
			if p.i >= len(p.data) {
				return p.fail("in string escape code")
			}
			switch p.data[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				p.i++
				for range 4 {
					if p.i >= len(p.data) || !isHex(p.data[p.i]) {
						return p.fail("in \\u hexadecimal character escape")
					}
					p.i++
				}
			default:
				return p.fail("in string escape code")
			}
		case c < 0x20:
			return p.fail("in string literal")
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			p.i++
		}
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) number() error {
	idx := p.push(nNumber)
	if p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case p.i < len(p.data) && p.data[p.i] >= '1' && p.data[p.i] <= '9':
		for p.i < len(p.data) && isDigit(p.data[p.i]) {
			p.i++
		}
	default:
		return p.fail("in numeric literal")
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if p.i >= len(p.data) || !isDigit(p.data[p.i]) {
			return p.fail("after decimal point in numeric literal")
		}
		for p.i < len(p.data) && isDigit(p.data[p.i]) {
			p.i++
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if p.i >= len(p.data) || !isDigit(p.data[p.i]) {
			return p.fail("in exponent of numeric literal")
		}
		for p.i < len(p.data) && isDigit(p.data[p.i]) {
			p.i++
		}
	}
	p.close(idx)
	return nil
}

// raw is a node's text.
func (t *tree) raw(i int32) []byte {
	nd := &t.nodes[i]
	return t.data[nd.start:nd.end]
}

// rawStr is a node's text as a string (a slice of the payload's one copy).
func (t *tree) rawStr(i int32) string {
	nd := &t.nodes[i]
	if t.text == "" {
		t.text = string(t.data)
	}
	return t.text[nd.start:nd.end]
}

// str is a string node's value, as encoding/json decodes it (escapes
// resolved, invalid UTF-8 replaced by U+FFFD). Plain strings are slices of
// one copy of the payload: no allocation per value.
func (t *tree) str(i int32) string {
	nd := &t.nodes[i]
	if nd.plain {
		if t.text == "" {
			t.text = string(t.data)
		}
		return t.text[nd.start+1 : nd.end-1]
	}
	var s string
	if err := json.Unmarshal(t.data[nd.start:nd.end], &s); err != nil {
		// The parser accepted the literal; encoding/json agrees on the
		// grammar, so this does not happen.
		return "\uFFFD"
	}
	return s
}

// keyIs reports whether string node i's value is exactly s, without
// building it when it is plain.
func (t *tree) keyIs(i int32, s string) bool {
	nd := &t.nodes[i]
	if nd.plain {
		return string(t.data[nd.start+1:nd.end-1]) == s
	}
	return t.str(i) == s
}
