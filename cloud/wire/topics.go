package wire

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Topic root of berth v1 (DESIGN.md, "MQTT topics (v1)").
const Root = "berth/v1"

// Kinds of dock topics: the path element after berth/v1/docks/{dock}/.
const (
	KindState    = "state"   // retained; LWT "offline"
	KindSlots    = "slots"   // slots/{slot}, retained
	KindDevices  = "devices" // devices/{serial}, health snapshot at docking
	KindSegment  = "segments"
	KindAudit    = "audit"
	KindAck      = "ack"      // collector -> dock
	KindCmd      = "cmd"      // collector -> dock
	KindDocking  = "docking"  // inventory at docking, and its end
	KindEvents   = "events"   // the recorder's event log, read at docking
	KindCheckout = "checkout" // an officer took a recorder (card tap)
)

// ErrBadTopic reports a topic outside berth v1 or with an invalid element.
var ErrBadTopic = errors.New("wire: bad topic")

// DockTopic returns berth/v1/docks/{dock}/{kind}[/{sub}].
func DockTopic(dock, kind string, sub ...string) string {
	t := Root + "/docks/" + dock + "/" + kind
	for _, s := range sub {
		t += "/" + s
	}
	return t
}

// StateTopic, SlotTopic, DeviceTopic, SegmentsTopic, AuditTopic, AckTopic and
// CmdTopic name each dock topic.
func StateTopic(dock string) string          { return DockTopic(dock, KindState) }
func SlotTopic(dock string, slot int) string { return DockTopic(dock, KindSlots, strconv.Itoa(slot)) }
func DeviceTopic(dock, serial string) string { return DockTopic(dock, KindDevices, serial) }
func SegmentsTopic(dock string) string       { return DockTopic(dock, KindSegment) }
func AuditTopic(dock string) string          { return DockTopic(dock, KindAudit) }
func AckTopic(dock string) string            { return DockTopic(dock, KindAck) }
func CmdTopic(dock string) string            { return DockTopic(dock, KindCmd) }
func DockingTopic(dock string) string        { return DockTopic(dock, KindDocking) }
func FirmwareTopic(dock string) string       { return DockTopic(dock, KindFirmware) }
func EventsTopic(dock string) string         { return DockTopic(dock, KindEvents) }
func CheckoutTopic(dock string) string       { return DockTopic(dock, KindCheckout) }
func AlertTopic(unit, kind string) string    { return Root + "/alerts/" + unit + "/" + kind }
func SharedSubscription(group string) string { return "$share/" + group + "/" + Root + "/docks/+/#" }
func DockSubscription() string               { return Root + "/docks/+/#" }

// DockTopicParts is a parsed dock topic.
type DockTopicParts struct {
	Dock string
	Kind string
	Sub  string // slot number or serial, when the kind has one
}

// ParseDockTopic splits a berth/v1/docks/... topic and checks every element.
func ParseDockTopic(topic string) (DockTopicParts, error) {
	rest, ok := strings.CutPrefix(topic, Root+"/docks/")
	if !ok {
		return DockTopicParts{}, fmt.Errorf("%w: %q is not under %s/docks/", ErrBadTopic, topic, Root)
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return DockTopicParts{}, fmt.Errorf("%w: %q has %d elements after docks/", ErrBadTopic, topic, len(parts))
	}
	p := DockTopicParts{Dock: parts[0], Kind: parts[1]}
	if err := ValidID(p.Dock); err != nil {
		return DockTopicParts{}, fmt.Errorf("%w: dock: %w", ErrBadTopic, err)
	}
	switch p.Kind {
	case KindSlots, KindDevices:
		if len(parts) != 3 {
			return DockTopicParts{}, fmt.Errorf("%w: %q needs a %s element", ErrBadTopic, topic, p.Kind)
		}
		p.Sub = parts[2]
		if err := ValidID(p.Sub); err != nil {
			return DockTopicParts{}, fmt.Errorf("%w: %s: %w", ErrBadTopic, p.Kind, err)
		}
	case KindState, KindSegment, KindAudit, KindAck, KindCmd, KindDocking, KindEvents, KindCheckout, KindFirmware:
		if len(parts) != 2 {
			return DockTopicParts{}, fmt.Errorf("%w: %q has extra elements", ErrBadTopic, topic)
		}
	default:
		return DockTopicParts{}, fmt.Errorf("%w: unknown kind %q", ErrBadTopic, p.Kind)
	}
	return p, nil
}

// ErrBadID reports an identifier (dock, serial, officer, unit) that is empty,
// too long or has characters outside [A-Za-z0-9._-]. Identifiers become topic
// elements, file names and URL path elements, so they are kept strict.
var ErrBadID = errors.New("wire: bad identifier")

// MaxIDLen bounds every identifier.
const MaxIDLen = 64

// ValidID checks an identifier.
func ValidID(s string) error {
	if s == "" || len(s) > MaxIDLen {
		return fmt.Errorf("%w: length %d not in 1..%d", ErrBadID, len(s), MaxIDLen)
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%w: %q", ErrBadID, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q has byte 0x%02x", ErrBadID, s, c)
		}
	}
	return nil
}

// CollectorName is the name space of the collectors' machine identities:
// "collector" and "collector-{anything}" are collectors' names (their
// certificates' CN, which a broker such as Mosquitto takes as the user name
// and client id), never a dock's id.
const CollectorName = "collector"

// IsCollectorName reports whether id lies in the collectors' name space.
func IsCollectorName(id string) bool {
	return id == CollectorName || strings.HasPrefix(id, CollectorName+"-")
}

// DockClientIDPrefix starts every dock's MQTT client id.
const DockClientIDPrefix = "berth-dock-"

// DockClientID is dock's MQTT client id; the embedded broker keeps ids of
// this form for that dock alone.
func DockClientID(dock string) string { return DockClientIDPrefix + dock }
