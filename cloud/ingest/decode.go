package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// Reasons of a rejection, the label of berth_ingest_rejected_total.
const (
	ReasonOversize       = "oversize"        // payload larger than wire.MaxPayload
	ReasonMalformedJSON  = "malformed_json"  // not a JSON document
	ReasonVersion        = "version"         // envelope v is not wire.SchemaVersion
	ReasonUnknownType    = "unknown_type"    // envelope type unknown to wire
	ReasonSchema         = "schema"          // violates the JSON Schema (cloud/wire/schema)
	ReasonInvalid        = "invalid_body"    // passes the schema, fails wire's Go checks (cross-field rules)
	ReasonBadTopic       = "bad_topic"       // topic not parseable as a berth v1 dock topic
	ReasonTopicMismatch  = "topic_mismatch"  // type, slot or serial does not match the topic
	ReasonDockMismatch   = "dock_mismatch"   // envelope dock is not the topic's dock
	ReasonNotEnrolled    = "not_enrolled"    // the dock is not enrolled
	ReasonEnrolmentCheck = "enrolment_check" // the enrolment lookup failed (store unavailable)
	ReasonStoreRefused   = "store_refused"   // store.Commit refused the message (store.InvalidError)
)

// Reasons lists every reason, for dashboards and tests.
var Reasons = []string{ReasonOversize, ReasonMalformedJSON, ReasonVersion, ReasonUnknownType, ReasonSchema,
	ReasonInvalid, ReasonBadTopic, ReasonTopicMismatch, ReasonDockMismatch, ReasonNotEnrolled,
	ReasonEnrolmentCheck, ReasonStoreRefused}

// ErrRejected is matched by every *Rejection.
var ErrRejected = errors.New("ingest: message rejected")

// Rejection is why a message was refused.
type Rejection struct {
	Reason string
	Err    error
}

func (r *Rejection) Error() string { return fmt.Sprintf("ingest: rejected (%s): %v", r.Reason, r.Err) }

func (r *Rejection) Unwrap() []error { return []error{ErrRejected, r.Err} }

func reject(reason string, err error) *Rejection { return &Rejection{Reason: reason, Err: err} }

// topicTypes maps each dock topic kind a dock publishes on to the only
// message type it carries.
var topicTypes = map[string]string{
	wire.KindState:    wire.TypeDockState,
	wire.KindSlots:    wire.TypeSlotState,
	wire.KindDevices:  wire.TypeDeviceHealth,
	wire.KindSegment:  wire.TypeSegmentManifest,
	wire.KindAudit:    wire.TypeAuditRecord,
	wire.KindDocking:  wire.TypeDocking,
	wire.KindEvents:   wire.TypeRecorderEvents,
	wire.KindCheckout: wire.TypeCheckout,
	// firmware.progress: registered in firmware.go
}

// Decoder turns one MQTT message into a store.Incoming, or a *Rejection. It
// does not check enrolment (that needs the store). Safe for concurrent use.
//
// Each payload is parsed once (jsontree.go) and checked once against the
// rules of the JSON Schemas of cloud/wire/schema and of wire's decoder,
// while wire's types are filled (validate.go).
type Decoder struct {
	trees sync.Pool // *tree, reused: parsing allocates nothing per node
}

var bindOnce = sync.OnceValue(bindSpecs)

// NewDecoder prepares the checks (it binds the schema tables to wire's Go
// types, and fails if they no longer match).
func NewDecoder() (*Decoder, error) {
	if err := bindOnce(); err != nil {
		return nil, err
	}
	return &Decoder{trees: sync.Pool{New: func() any { return &tree{nodes: make([]node, 0, 64)} }}}, nil
}

// CollectorTopic reports whether topic is one the collector itself publishes on
// (ack, cmd): the dock subscription sees them too, and they are skipped,
// neither committed nor counted as rejections.
func CollectorTopic(p wire.DockTopicParts) bool {
	return p.Kind == wire.KindAck || p.Kind == wire.KindCmd
}

// Decode checks a message from a dock topic, in order: topic, size, JSON,
// version and type, JSON Schema, wire's body checks, then that the envelope
// belongs on that topic. Every failure is a *Rejection with its reason.
// The envelope's Body is a slice of payload.
func (d *Decoder) Decode(topic string, payload []byte) (wire.DockTopicParts, store.Incoming, error) {
	parts, err := wire.ParseDockTopic(topic)
	if err != nil {
		return parts, store.Incoming{}, reject(ReasonBadTopic, err)
	}
	if len(payload) > wire.MaxPayload {
		return parts, store.Incoming{}, reject(ReasonOversize,
			fmt.Errorf("%w: %d bytes > %d", wire.ErrTooLarge, len(payload), wire.MaxPayload))
	}
	t := d.trees.Get().(*tree)
	defer func() {
		t.reset(nil)
		if cap(t.nodes) <= 4096 { // do not keep what a huge payload made
			d.trees.Put(t)
		}
	}()
	if err := t.parse(payload); err != nil {
		return parts, store.Incoming{}, reject(ReasonMalformedJSON, fmt.Errorf("%w: %w", wire.ErrMalformed, err))
	}
	env, body, rj := decodeTree(t)
	if rj != nil {
		if env.Dock == parts.Dock && env.ID != "" && len(env.ID) <= 128 {
			// The envelope names the report: the dock is told it was
			// refused for good (a negative ack) rather than resending it.
			return parts, store.Incoming{Env: wire.Envelope{ID: env.ID, Dock: env.Dock}}, rj
		}
		return parts, store.Incoming{}, rj
	}
	if env.Dock != parts.Dock {
		return parts, store.Incoming{}, reject(ReasonDockMismatch,
			fmt.Errorf("envelope dock %q on topic of dock %q", env.Dock, parts.Dock))
	}
	if err := matchTopic(parts, env.Type, body); err != nil {
		return parts, store.Incoming{}, reject(ReasonTopicMismatch, err)
	}
	return parts, store.Incoming{Env: env, Body: body}, nil
}

// matchTopic checks that the message belongs on its topic: its type is the
// topic kind's, and a slot or device topic names the body's slot or serial
// (retained slot states are keyed by topic: a wrong one would overwrite
// another slot's).
func matchTopic(p wire.DockTopicParts, typ string, body wire.Body) error {
	want, ok := topicTypes[p.Kind]
	if !ok {
		return fmt.Errorf("docks publish no %s messages", p.Kind)
	}
	if typ != want {
		return fmt.Errorf("%s message on a %s topic (want %s)", typ, p.Kind, want)
	}
	switch b := body.(type) {
	case *wire.SlotState:
		if p.Sub != strconv.Itoa(b.Slot) {
			return fmt.Errorf("slot %d on topic slots/%s", b.Slot, p.Sub)
		}
	case *wire.DeviceHealth:
		if p.Sub != b.Serial {
			return fmt.Errorf("device %q on topic devices/%s", b.Serial, p.Sub)
		}
	}
	return nil
}

// ReportFilters are topic filters for just the topics docks report on, an
// alternative to the default wire.DockSubscription() for Config.Filters:
// the collector then does not receive its own acks and commands back, at
// the price of not seeing (and counting) messages docks publish on topics
// outside berth v1.
func ReportFilters() []string {
	return []string{
		wire.DockTopic("+", wire.KindState),
		wire.DockTopic("+", wire.KindSlots, "+"),
		wire.DockTopic("+", wire.KindDevices, "+"),
		wire.DockTopic("+", wire.KindSegment),
		wire.DockTopic("+", wire.KindAudit),
		wire.DockTopic("+", wire.KindDocking),
		wire.DockTopic("+", wire.KindFirmware),
		wire.DockTopic("+", wire.KindEvents),
		wire.DockTopic("+", wire.KindCheckout),
	}
}
