package slot

import (
	"errors"
	"testing"

	"github.com/berthdock/berth/cloud/wire"
)

// The "authenticated" record a slot writes carries the recorder's proof
// (DockLink §6.5): it verifies with the recorder's key for this dock, and
// not for another dock, so the collector can tell a dock that held the
// recorder from one that only says so.
func TestAuthenticatedRecordCarriesProof(t *testing.T) {
	r := newRig(t, true)
	r.rec.AddRandom(1, 10<<10, 1, t0)
	r.dock(true)
	r.waitState(t, wire.SlotReleased)
	r.rep.mu.Lock()
	proofs := append([]wire.AuditRecord(nil), r.rep.proofs...)
	r.rep.mu.Unlock()
	if len(proofs) != 1 {
		t.Fatalf("%d authenticated records", len(proofs))
	}
	rec := proofs[0]
	if rec.Serial != "REC-0001" || rec.Slot != 2 || rec.Proof == nil {
		t.Fatalf("authenticated record %+v", rec)
	}
	if err := rec.VerifyProof("dock-1", r.rec.PublicKey()); err != nil {
		t.Fatalf("proof: %v", err)
	}
	if err := rec.VerifyProof("dock-2", r.rec.PublicKey()); !errors.Is(err, wire.ErrBadProof) {
		t.Fatalf("proof for another dock: %v", err)
	}
	r.dock(false)
	r.waitState(t, wire.SlotEmpty)
}
