package store

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// provenProof is a verified proof's enrolled key (base64, as
// recorders.public_key) and time (Unix ns): its signed time
// (wire.AuthProof.At), or its arrival by the store's clock if earlier.
type provenProof struct {
	key string
	at  int64
}

// proofs checks, once as they arrive, the proofs of the batch's
// "authenticated" audit records (wire.AuditRecord.VerifyProof): the
// recorder's signature over the nonce recomputed from the record's dock,
// time and salt, with the key enrolled for the recorder now. A proof that
// verifies is kept with that key and its time (w.proven, then
// audit_records.proof_key and proof_at), which is what
// RecordersAuthenticated counts (for Opts.ProofMaxAge after its time). A record without a proof,
// or for a recorder not enrolled, is stored and counts for nothing. Under
// RecordersAuthenticated a proof that does not verify is a dock claiming a
// recorder it did not show holding: it is logged, counted and alerted as a
// refusal (KindRecorderRefused, to the recorder's unit). The record itself
// is never dropped: the chain stays whole, and names the dock that wrote it.
func (w *writer) proofs(ctx context.Context) error {
	var idx []int
	var serials []string
	for _, i := range w.fresh {
		if r, ok := w.msgs[i].Body.(*wire.AuditRecord); ok && r.Action == wire.AuditAuthenticated && r.Proof != nil && r.Serial != "" {
			idx = append(idx, i)
			serials = append(serials, r.Serial)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	type enrolled struct {
		unit, key string
		pub       ed25519.PublicKey
	}
	keys := map[string]enrolled{}
	err := w.chunked(ctx, `SELECT serial, unit, public_key FROM recorders WHERE serial IN (%s)`, serials, nil, func(rs *sql.Rows) error {
		var serial string
		var e enrolled
		if err := rs.Scan(&serial, &e.unit, &e.key); err != nil {
			return err
		}
		k, err := base64.StdEncoding.DecodeString(e.key)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("recorder %s: stored key is not a base64 Ed25519 public key", serial)
		}
		e.pub = k
		keys[serial] = e
		return nil
	})
	if err != nil {
		return err
	}
	for _, i := range idx {
		m := w.msgs[i]
		r := m.Body.(*wire.AuditRecord)
		e, ok := keys[r.Serial]
		if !ok {
			continue // no key to check it with: it counts for nothing
		}
		verr := r.VerifyProof(m.Env.Dock, e.pub)
		if verr == nil {
			if w.proven == nil {
				w.proven = map[int]provenProof{}
			}
			// The signed time, never the envelope's; capped at arrival,
			// so a proof dated ahead does not last longer.
			w.proven[i] = provenProof{key: e.key, at: min(r.Proof.At.UnixNano(), w.now)}
			continue
		}
		if w.s.policy != RecordersAuthenticated {
			continue
		}
		alert := Alert{Key: fmt.Sprintf("%s/proof/%s/%s", KindRecorderRefused, m.Env.Dock, r.Serial), Kind: KindRecorderRefused,
			Severity: "warning", Unit: e.unit, Serial: r.Serial, Dock: m.Env.Dock, At: time.Unix(0, w.now).UTC(),
			Title: fmt.Sprintf("Dock %s claimed recorder %s with a proof that does not verify", m.Env.Dock, r.Serial),
			Detail: fmt.Sprintf("audit record %d: %v; the record is kept in the dock's chain but does not let it handle the recorder",
				r.Index, verr)}
		if w.refused == nil {
			w.refused = map[string]int{}
		}
		w.refused[alert.Kind]++
		w.s.log.Warn("store: authentication proof refused", "dock", m.Env.Dock, "msg", m.Env.ID, "serial", r.Serial,
			"index", r.Index, "err", verr)
		if _, err := w.s.upsertAlertTx(ctx, w.tx, alert, "{}"); err != nil {
			return err
		}
	}
	return nil
}
