package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Audit actions a dock records.
const (
	AuditDocked          = "docked"
	AuditUndocked        = "undocked"
	AuditAuthenticated   = "authenticated"
	AuditAuthRefused     = "auth-refused"
	AuditClockSet        = "clock-set"
	AuditCopied          = "copied"
	AuditVerified        = "verified"
	AuditUploaded        = "uploaded"
	AuditReleased        = "released"
	AuditFault           = "fault"
	AuditConfig          = "config"
	AuditCommand         = "command"
	AuditStarted         = "started"
	AuditEventsFailed    = "events-failed"    // the recorder's event log could not be read
	AuditEventsReset     = "events-reset"     // the recorder's event log restarted its numbering
	AuditCheckoutOffered = "checkout-offered" // a card tap: the slot's LED shows the recorder to take
	AuditCheckout        = "checkout"         // the officer took the offered recorder
	AuditCheckoutLapsed  = "checkout-lapsed"  // the offer passed without the recorder being taken
	AuditCheckoutRefused = "checkout-refused" // a card tap with no officer mapped, or no ready recorder
	AuditFirmware        = "firmware"         // a recorder rebooted to install firmware (DockLink §17)
	AuditMounted         = "mounted"          // a legacy mass-storage recorder's volume, mounted read-only (not authenticated)
)

// GenesisHash is the Prev of a dock's first audit record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditRecord is one entry of a dock's append-only, hash-chained audit log,
// on berth/v1/docks/{dock}/audit.
//
// Hash = hex(SHA-256("berth-audit-v1" ‖ u32 len ‖ dock ‖ u64 index ‖
// prev (32 raw bytes) ‖ i64 unix-nanoseconds ‖ str action ‖ i64 slot ‖
// str serial ‖ u64 seq ‖ str detail)), integers big-endian, each str a
// u32 big-endian length followed by its bytes.
type AuditRecord struct {
	Index  uint64    `json:"index"` // 0 for the first record, then +1
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Slot   int       `json:"slot"` // -1 when not about a slot
	Serial string    `json:"serial,omitempty"`
	Seq    uint64    `json:"seq,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Prev   string    `json:"prev"`
	Hash   string    `json:"hash"`
}

// ErrChainBroken reports an audit record whose hash or link does not verify.
var ErrChainBroken = errors.New("wire: audit chain broken")

// ComputeHash returns the record's chain hash for the given dock.
func (r *AuditRecord) ComputeHash(dock string) (string, error) {
	prev, err := hex.DecodeString(r.Prev)
	if err != nil || len(prev) != sha256.Size {
		return "", invalid("audit prev %q", r.Prev)
	}
	c := canon("berth-audit-v1").str(dock).u64(r.Index)
	c = append(c, prev...)
	c = c.i64(r.Time.UnixNano()).str(r.Action).i64(int64(r.Slot)).str(r.Serial).u64(r.Seq).str(r.Detail)
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// Seal fills Prev and Hash so the record follows prev (nil for the first).
func (r *AuditRecord) Seal(dock string, prev *AuditRecord) error {
	r.Prev, r.Index = GenesisHash, 0
	if prev != nil {
		r.Prev, r.Index = prev.Hash, prev.Index+1
	}
	h, err := r.ComputeHash(dock)
	if err != nil {
		return err
	}
	r.Hash = h
	return nil
}

// VerifyLink checks that r's hash is right and that it follows prev (nil
// when r must be the first record).
func (r *AuditRecord) VerifyLink(dock string, prev *AuditRecord) error {
	h, err := r.ComputeHash(dock)
	if err != nil {
		return fmt.Errorf("%w: index %d: %w", ErrChainBroken, r.Index, err)
	}
	if h != r.Hash {
		return fmt.Errorf("%w: index %d: hash %s, computed %s", ErrChainBroken, r.Index, r.Hash, h)
	}
	wantPrev, wantIndex := GenesisHash, uint64(0)
	if prev != nil {
		wantPrev, wantIndex = prev.Hash, prev.Index+1
	}
	if r.Prev != wantPrev || r.Index != wantIndex {
		return fmt.Errorf("%w: index %d does not follow index %d", ErrChainBroken, r.Index, wantIndex-1)
	}
	return nil
}

func (r *AuditRecord) Validate() error {
	if r.Action == "" || len(r.Action) > 64 || len(r.Detail) > 4096 {
		return invalid("audit action or detail")
	}
	if r.Time.IsZero() {
		return invalid("audit time missing")
	}
	if r.Serial != "" {
		if err := ValidID(r.Serial); err != nil {
			return err
		}
	}
	if !ValidSHA256(r.Prev) || !ValidSHA256(r.Hash) {
		return invalid("audit prev or hash")
	}
	return nil
}
