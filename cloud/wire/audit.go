package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
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

// Bounds of an AuthProof's fields, twice their base64 length: a longer
// one is refused as malformed, a shorter malformed one fails VerifyProof.
const (
	MaxProofSalt = 64
	MaxProofSig  = 128
)

// GenesisHash is the Prev of a dock's first audit record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditRecord is one entry of a dock's append-only, hash-chained audit log,
// on berth/v1/docks/{dock}/audit.
//
// Hash = hex(SHA-256("berth-audit-v1" ‖ u32 len ‖ dock ‖ u64 index ‖
// prev (32 raw bytes) ‖ i64 unix-nanoseconds ‖ str action ‖ i64 slot ‖
// str serial ‖ u64 seq ‖ str detail [‖ i64 proof at unix-nanoseconds ‖
// str proof salt ‖ str proof sig])), integers big-endian, each str a u32
// big-endian length followed by its bytes; the bracketed part only when
// the record carries a proof.
type AuditRecord struct {
	Index  uint64    `json:"index"` // 0 for the first record, then +1
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Slot   int       `json:"slot"` // -1 when not about a slot
	Serial string    `json:"serial,omitempty"`
	Seq    uint64    `json:"seq,omitempty"`
	Detail string    `json:"detail,omitempty"`
	// Proof, on an "authenticated" record, is the recorder's proof that
	// the dock held it (AuthProof); nil on every other record and from a
	// dock that does not derive its nonces (DockLink §6.5).
	Proof *AuthProof `json:"proof,omitempty"`
	Prev  string     `json:"prev"`
	Hash  string     `json:"hash"`
}

// AuthProof is what the recorder signed when the dock authenticated it
// (DockLink §6.5): the dock challenged it with the nonce derived from the
// dock's id, At and Salt, and the recorder answered with Signature, its
// Ed25519 signature over the DockLink §6.2 message for its serial. The
// collector, which enrols every recorder's public key, recomputes the
// nonce from the record's dock, At and Salt (VerifyProof): a dock cannot
// make a proof for a recorder it did not hold, nor pass off another dock's
// as its own.
type AuthProof struct {
	At        time.Time `json:"at"`   // the dock's clock when it challenged the recorder
	Salt      string    `json:"salt"` // base64 of the nonce's 16 random bytes
	Signature string    `json:"sig"`  // base64 of the recorder's 64-byte Ed25519 signature
}

// ProofOf is the wire form of a docklink authentication proof.
func ProofOf(p docklink.AuthProof) *AuthProof {
	return &AuthProof{At: p.At.UTC(), Salt: base64.StdEncoding.EncodeToString(p.Salt[:]),
		Signature: base64.StdEncoding.EncodeToString(p.Signature[:])}
}

// Errors of VerifyProof.
var (
	// ErrNoProof reports an "authenticated" record without a proof.
	ErrNoProof = errors.New("wire: authenticated record carries no proof")
	// ErrBadProof reports a proof that is malformed or does not verify.
	ErrBadProof = errors.New("wire: authentication proof does not verify")
)

// VerifyProof checks that r, in dock's chain, carries the recorder's proof
// that dock held r.Serial at r.Proof.At: its signature verifies with pub
// over the DockLink §6.2 message whose nonce is recomputed from dock,
// r.Proof.At and r.Proof.Salt (§6.5). It returns ErrNoProof or a wrapped
// ErrBadProof.
func (r *AuditRecord) VerifyProof(dock string, pub ed25519.PublicKey) error {
	p := r.Proof
	if p == nil {
		return ErrNoProof
	}
	salt, err := base64.StdEncoding.DecodeString(p.Salt)
	if err != nil || len(salt) != docklink.SaltSize {
		return fmt.Errorf("%w: salt is not base64 of %d bytes", ErrBadProof, docklink.SaltSize)
	}
	sig, err := base64.StdEncoding.DecodeString(p.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is not base64 of %d bytes", ErrBadProof, ed25519.SignatureSize)
	}
	dp := docklink.AuthProof{Dock: dock, At: p.At, Salt: [docklink.SaltSize]byte(salt), Serial: r.Serial,
		Signature: [ed25519.SignatureSize]byte(sig)}
	if !dp.Verify(pub) {
		return fmt.Errorf("%w: recorder %s's signature does not verify with its enrolled key for dock %s at %s",
			ErrBadProof, r.Serial, dock, p.At.UTC().Format(time.RFC3339Nano))
	}
	return nil
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
	if p := r.Proof; p != nil {
		c = c.i64(p.At.UnixNano()).str(p.Salt).str(p.Signature)
	}
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
	if p := r.Proof; p != nil {
		// Only the shape: whether it verifies is the store's judgement, and
		// a record is never refused for it (its chain would break).
		if p.At.IsZero() || len(p.Salt) > MaxProofSalt || len(p.Signature) > MaxProofSig {
			return invalid("audit proof time, salt or sig")
		}
	}
	return nil
}
