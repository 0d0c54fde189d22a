package board

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"periph.io/x/conn/v3/physic"
)

// ErrInvalid is wrapped by every board-file error.
var ErrInvalid = errors.New("board: invalid board file")

// MaxSlots bounds a board file.
const MaxSlots = 32

// MaxFileSize bounds a board file; real ones are a few kilobytes.
const MaxFileSize = 256 << 10

// Error is one mistake in a board file, printed as "file:line: field: message".
type Error struct {
	File  string
	Line  int
	Field string // e.g. "slots[2].presence.pin"
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

// Load reads and validates a board file.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("board: %w", err)
	}
	return Parse(path, data)
}

// Parse validates a board file's contents; name is used in messages. The
// error, if any, holds one line per mistake (errors.Join of *Error).
func Parse(name string, data []byte) (*Spec, error) {
	p := &parser{file: name}
	if len(data) > MaxFileSize {
		return nil, &Error{File: name, Line: 1, Msg: fmt.Sprintf("%d bytes, larger than a board file can be (%d)", len(data), MaxFileSize)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 1
		msg := err.Error()
		// yaml.v3 says "yaml: line N: ..."; keep the line, drop the prefix.
		if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
			if n, tail, ok := strings.Cut(rest, ": "); ok {
				if l, err := strconv.Atoi(n); err == nil {
					line, msg = l, tail
				}
			}
		}
		return nil, &Error{File: name, Line: line, Msg: "not valid YAML: " + msg}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: name, Line: 1, Msg: "empty board file"}
	}
	s := p.spec(doc.Content[0])
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	p.validate(s)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return s, nil
}

type parser struct {
	file string
	errs []error
}

func (p *parser) fail(line int, field, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// object is a YAML mapping being read; unknown keys are reported by done.
type object struct {
	p    *parser
	path string
	node *yaml.Node
	keys map[string]*yaml.Node
	knew map[string]int // key -> line of the key
}

// deref follows YAML aliases (*name) to their anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 64; i++ {
		n = n.Alias
	}
	return n
}

func (p *parser) object(path string, n *yaml.Node) *object {
	n = deref(n)
	o := &object{p: p, path: path, node: n, keys: map[string]*yaml.Node{}, knew: map[string]int{}}
	if n.Kind != yaml.MappingNode {
		p.fail(n.Line, path, "want a mapping of fields, got %s", kindName(n))
		return o
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Value == "<<" && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if _, dup := o.keys[k.Value]; dup {
			p.fail(k.Line, o.field(k.Value), "field given twice")
		}
		o.keys[k.Value] = v
		o.knew[k.Value] = k.Line
	}
	// Merge keys (<<: *defaults) fill in fields the mapping does not set.
	for _, m := range merges {
		if m.Kind != yaml.MappingNode {
			p.fail(m.Line, path, "<< merges a mapping, got %s", kindName(m))
			continue
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := m.Content[i]
			if _, set := o.keys[k.Value]; !set {
				o.keys[k.Value] = deref(m.Content[i+1])
				o.knew[k.Value] = k.Line
			}
		}
	}
	return o
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func (o *object) field(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// take returns the value node of key and marks it known.
func (o *object) take(key string) *yaml.Node {
	n := deref(o.keys[key])
	delete(o.keys, key)
	return n
}

// done reports keys nobody asked for.
func (o *object) done() {
	var left []string
	for k := range o.keys {
		left = append(left, k)
	}
	slices.Sort(left)
	for _, k := range left {
		o.p.fail(o.knew[k], o.field(k), "unknown field")
	}
}

func (o *object) missing(key string) {
	o.p.fail(o.node.Line, o.field(key), "missing")
}

func (o *object) str(key string, required bool) (string, int) {
	n := o.take(key)
	if n == nil {
		if required {
			o.missing(key)
		}
		return "", o.node.Line
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Value == "" {
		if required || n.Kind != yaml.ScalarNode {
			o.p.fail(n.Line, o.field(key), "want a value, got %s", kindName(n))
		}
		return "", n.Line
	}
	return n.Value, n.Line
}

func (o *object) boolean(key string) bool {
	n := o.take(key)
	if n == nil {
		return false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		o.p.fail(n.Line, o.field(key), "want true or false, got %s", kindName(n))
	}
	return b
}

func (o *object) integer(key string, required bool) (int, bool) {
	n := o.take(key)
	if n == nil {
		if required {
			o.missing(key)
		}
		return 0, false
	}
	var v int
	if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
		o.p.fail(n.Line, o.field(key), "want a whole number, got %s", kindName(n))
		return 0, false
	}
	return v, true
}

func (o *object) duration(key string) time.Duration {
	s, line := o.str(key, false)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		o.p.fail(line, o.field(key), "want a positive duration like 50ms or 2s, got %q", s)
		return 0
	}
	return d
}

// unit parses a physic quantity such as "100mΩ" or "2.5A" into v.
func (o *object) unit(key string, v interface{ Set(string) error }, example string) bool {
	s, line := o.str(key, false)
	if s == "" {
		return false
	}
	if err := v.Set(s); err != nil {
		o.p.fail(line, o.field(key), "want a value like %s, got %q", example, s)
		return false
	}
	return true
}

func (o *object) pin(key string) Pin {
	s, line := o.str(key, true)
	return Pin{Name: s, Line: line}
}

func (o *object) child(key string, required bool) *object {
	n := o.take(key)
	if n == nil {
		if required {
			o.missing(key)
		}
		return nil
	}
	return o.p.object(o.field(key), n)
}

func (p *parser) spec(root *yaml.Node) *Spec {
	top := p.object("", root)
	s := &Spec{File: p.file}
	s.Name, _ = top.str("board", true)
	var kindLine int
	s.Kind, kindLine = top.str("kind", true)
	switch s.Kind {
	case KindRPi4, KindRPi5, KindSim, "":
	default:
		p.fail(kindLine, "kind", "unknown kind %q (want rpi4, rpi5 or sim)", s.Kind)
	}
	if l := top.child("leds", true); l != nil {
		s.LEDs = p.leds(l)
	}
	if n := top.take("slots"); n == nil {
		top.missing("slots")
	} else if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.fail(n.Line, "slots", "want a list of at least one slot, got %s", kindName(n))
	} else if len(n.Content) > MaxSlots {
		p.fail(n.Line, "slots", "%d slots, at most %d", len(n.Content), MaxSlots)
	} else {
		for i, sn := range n.Content {
			sn = deref(sn)
			s.Slots = append(s.Slots, p.slot(fmt.Sprintf("slots[%d]", i), sn))
		}
	}
	if o := top.child("card_reader", false); o != nil {
		c := &CardReaderSpec{Line: o.node.Line, Gain: 4}
		c.SPI, _ = o.str("spi", true)
		c.Reset, c.IRQ = o.pin("reset"), o.pin("irq")
		if g, ok := o.integer("gain", false); ok {
			if g < 0 || g > 7 {
				p.fail(o.node.Line, o.field("gain"), "antenna gain %d not in 0..7", g)
			}
			c.Gain = g
		}
		o.done()
		s.CardReader = c
	}
	if o := top.child("sim", false); o != nil {
		if n := o.take("missing_i2c"); n != nil {
			var addrs []uint16
			if n.Decode(&addrs) != nil {
				p.fail(n.Line, "sim.missing_i2c", "want a list of I2C addresses like [0x41]")
			}
			s.Sim.MissingI2C = addrs
		}
		o.done()
	}
	top.done()
	return s
}

func (p *parser) leds(o *object) LEDSpec {
	l := LEDSpec{Line: o.node.Line}
	var line int
	l.Type, line = o.str("type", true)
	l.ActiveLow = o.boolean("active_low")
	l.SPI, _ = o.str("spi", false)
	l.Pixels, _ = o.integer("pixels", false)
	switch l.Type {
	case LEDGPIO, "":
	case LEDAPA102, LEDWS2812:
		if l.SPI == "" {
			o.missing("spi")
		}
		if l.Pixels <= 0 {
			p.fail(o.node.Line, o.field("pixels"), "a strip needs its number of pixels (at least 1)")
		}
	default:
		p.fail(line, o.field("type"), "unknown LED type %q (want gpio, apa102 or ws2812)", l.Type)
	}
	o.done()
	return l
}

func (p *parser) slot(path string, n *yaml.Node) SlotSpec {
	o := p.object(path, n)
	s := SlotSpec{Line: n.Line}
	s.Name, _ = o.str("name", true)
	if c := o.child("charge", true); c != nil {
		s.Charge.Pin = c.pin("pin")
		s.Charge.ActiveLow = c.boolean("active_low")
		s.Charge.Settle = c.duration("settle")
		c.done()
	}
	if c := o.child("presence", true); c != nil {
		s.Presence.Pin = c.pin("pin")
		active, line := c.str("active", false)
		switch active {
		case "", "low":
		case "high":
			s.Presence.ActiveHigh = true
		default:
			p.fail(line, c.field("active"), "want low or high, got %q", active)
		}
		pull, line := c.str("pull", false)
		switch pull {
		case "":
			s.Presence.Pull = "up"
		case "up", "down", "none":
			s.Presence.Pull = pull
		default:
			p.fail(line, c.field("pull"), "want up, down or none, got %q", pull)
		}
		s.Presence.Settle = c.duration("settle")
		c.done()
	}
	if c := o.child("led", true); c != nil {
		s.LED.Line = c.node.Line
		s.LED.Pixel = -1
		if pn := c.take("pins"); pn != nil {
			if pn.Kind != yaml.SequenceNode {
				p.fail(pn.Line, c.field("pins"), "want a list of 1 pin or 3 pins (red, green, blue), got %s", kindName(pn))
			}
			for _, e := range pn.Content {
				e = deref(e)
				if e.Kind != yaml.ScalarNode {
					p.fail(e.Line, c.field("pins"), "want pin names, got %s", kindName(e))
				}
				s.LED.Pins = append(s.LED.Pins, Pin{Name: e.Value, Line: e.Line})
			}
		}
		if v, ok := c.integer("pixel", false); ok {
			s.LED.Pixel = v
		}
		c.done()
	}
	if c := o.child("current", false); c != nil {
		s.Current = p.current(c)
	}
	// A slot's recorder speaks DockLink over a serial link, or (a legacy
	// recorder) presents as USB mass storage: exactly one of the two.
	_, hasStorage := o.keys["storage"]
	if c := o.child("serial", !hasStorage); c != nil {
		s.Serial.Line = c.node.Line
		s.Serial.Path, _ = c.str("path", false)
		s.Serial.TCP, _ = c.str("tcp", false)
		if (s.Serial.Path == "") == (s.Serial.TCP == "") {
			p.fail(c.node.Line, c.path, "want exactly one of path (a serial device) or tcp (simulated board)")
		}
		if hasStorage {
			p.fail(c.node.Line, c.path, "a slot has a serial link or mass storage, not both")
		}
		c.done()
	}
	if c := o.child("storage", false); c != nil {
		st := &StorageSpec{Line: c.node.Line}
		st.Path, _ = c.str("path", true)
		if st.Path != "" && !strings.HasPrefix(st.Path, "/") {
			p.fail(c.node.Line, c.field("path"), "want an absolute path (a /dev/disk/by-path link), got %q", st.Path)
		}
		if n := c.take("fstypes"); n != nil {
			n = deref(n)
			if n.Kind != yaml.SequenceNode {
				p.fail(n.Line, c.field("fstypes"), "want a list of file system types, got %s", kindName(n))
			}
			for _, e := range n.Content {
				e = deref(e)
				if e.Kind != yaml.ScalarNode || e.Value == "" {
					p.fail(e.Line, c.field("fstypes"), "want a file system type, got %s", kindName(e))
					continue
				}
				st.FSTypes = append(st.FSTypes, e.Value)
			}
		}
		c.done()
		s.Storage = st
	}
	o.done()
	return s
}

func (p *parser) current(c *object) *CurrentSpec {
	cs := &CurrentSpec{Line: c.node.Line, Shunt: 100 * physic.MilliOhm, Max: 3200 * physic.MilliAmpere, Limit: 2500 * physic.MilliAmpere}
	var line int
	cs.Type, line = c.str("type", false)
	switch cs.Type {
	case "":
		cs.Type = SensorINA219
	case SensorINA219:
	case SensorINA3221:
		cs.Limit = 1500 * physic.MilliAmpere
	default:
		p.fail(line, c.field("type"), "unknown sensor %q (want ina219 or ina3221)", cs.Type)
	}
	cs.Bus, _ = c.str("bus", false)
	if a, ok := c.integer("address", true); ok {
		lo, hi := 0x40, 0x4f
		if cs.Type == SensorINA3221 {
			hi = 0x43
		}
		if a < lo || a > hi {
			p.fail(c.node.Line, c.field("address"), "%s address %#x outside %#x-%#x", cs.Type, a, lo, hi)
		}
		cs.Address = uint16(a)
	}
	ch, hasCh := c.integer("channel", false)
	switch {
	case cs.Type == SensorINA3221 && !hasCh:
		c.missing("channel")
	case cs.Type == SensorINA3221 && (ch < 1 || ch > 3):
		p.fail(c.node.Line, c.field("channel"), "INA3221 channel %d (want 1 to 3)", ch)
	case cs.Type != SensorINA3221 && hasCh:
		p.fail(c.node.Line, c.field("channel"), "only an ina3221 has channels")
	}
	cs.Channel = ch
	c.unit("shunt", &cs.Shunt, "100mΩ")
	hasMax := c.unit("max", &cs.Max, "3.2A")
	c.unit("limit", &cs.Limit, "2.5A")
	if cs.Shunt <= 0 {
		p.fail(c.node.Line, c.field("shunt"), "must be positive")
		return cs
	}
	if cs.Type == SensorINA3221 {
		if hasMax {
			p.fail(c.node.Line, c.field("max"), "an ina3221's full scale is fixed at 163.8mV across the shunt")
		}
		cs.Max = physic.ElectricCurrent(int64(163800*physic.MicroVolt) * int64(physic.Ohm) / int64(cs.Shunt))
	}
	if cs.Limit > cs.Max {
		p.fail(c.node.Line, c.field("limit"), "limit %s above the calibrated full scale %s", cs.Limit, cs.Max)
	}
	c.done()
	return cs
}
