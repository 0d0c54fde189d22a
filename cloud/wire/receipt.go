package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Receipt is the collector's signed statement that the evidence store holds
// an object with exactly this SHA-256 and size. A dock releases a segment on
// the recorder only with a receipt that verifies against the collector's
// public key and names that segment's device, sequence and hash.
//
// Signature = base64(Ed25519(key, "berth-receipt-v1" ‖ str object ‖
// str device ‖ u64 seq ‖ str sha256 ‖ i64 size ‖ i64 stored unix-nanoseconds ‖
// str key_id)), integers big-endian, each str a u32 big-endian length and bytes.
type Receipt struct {
	ObjectID  string    `json:"object"`
	Device    string    `json:"device"`
	Seq       uint64    `json:"seq"`
	SHA256    string    `json:"sha256"` // hex
	Size      int64     `json:"size"`
	StoredAt  time.Time `json:"stored_at"`
	KeyID     string    `json:"key_id"`
	Signature string    `json:"sig"`
}

// ErrReceipt reports a receipt that does not verify or does not name the
// segment it is presented for.
var ErrReceipt = errors.New("wire: bad receipt")

func (r *Receipt) signed() []byte {
	return canon("berth-receipt-v1").str(r.ObjectID).str(r.Device).u64(r.Seq).str(r.SHA256).
		i64(r.Size).i64(r.StoredAt.UnixNano()).str(r.KeyID)
}

// Sign sets KeyID and Signature.
func (r *Receipt) Sign(keyID string, key ed25519.PrivateKey) {
	r.KeyID = keyID
	r.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, r.signed()))
}

// Verify checks the signature against pub and that the receipt names
// exactly device, seq, sha256 (hex) and size.
func (r *Receipt) Verify(pub ed25519.PublicKey, device string, seq uint64, sha256hex string, size int64) error {
	sig, err := base64.StdEncoding.DecodeString(r.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: malformed signature", ErrReceipt)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, r.signed(), sig) {
		return fmt.Errorf("%w: signature does not verify", ErrReceipt)
	}
	if r.Device != device || r.Seq != seq || r.SHA256 != sha256hex || r.Size != size {
		return fmt.Errorf("%w: names %s/%d %s (%d bytes), not %s/%d %s (%d bytes)", ErrReceipt,
			r.Device, r.Seq, r.SHA256, r.Size, device, seq, sha256hex, size)
	}
	return nil
}

// KeyID names a collector public key in receipts: the first 8 bytes of its
// SHA-256, hex.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// ReceiptKeys are the collector keys a dock trusts: the current one and,
// while a rotation settles, the previous ones (receipts already issued keep
// the key that signed them).
type ReceiptKeys []ed25519.PublicKey

// Verify checks r against the key its KeyID names, else against each key
// (a key id is a hint; the signature is the proof), and that it names
// exactly device, seq, sha256 (hex) and size.
func (ks ReceiptKeys) Verify(r *Receipt, device string, seq uint64, sha256hex string, size int64) error {
	if len(ks) == 0 {
		return fmt.Errorf("%w: no trusted collector key", ErrReceipt)
	}
	for _, k := range ks {
		if KeyID(k) == r.KeyID {
			return r.Verify(k, device, seq, sha256hex, size)
		}
	}
	var err error
	for _, k := range ks {
		if err = r.Verify(k, device, seq, sha256hex, size); err == nil {
			return nil
		}
	}
	return err
}
