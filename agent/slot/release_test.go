package slot

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
)

// A recorder that lists, under a sequence number the buffer already holds
// with a receipt, footage with another hash (a reused number) keeps it:
// the receipt is for exactly the buffered hash, so nothing is released.
func TestReleaseOnlyForTheReceiptedHash(t *testing.T) {
	r := newRig(t, true)
	segs := r.rec.AddRandom(1, 1000, 1, t0)
	// An earlier docking buffered and uploaded other footage as seq 1.
	key := k("REC-0001", 1)
	sum := segs[0].SHA256
	sum[0] ^= 0xff
	other := hex.EncodeToString(sum[:])
	r.buf.mu.Lock()
	r.buf.data[key] = bytes.NewBuffer(make([]byte, 1000))
	r.buf.phase[key] = buffer.PhaseUploaded
	r.buf.receipts[key] = &wire.Receipt{ObjectID: "sha256-" + other, Device: "REC-0001", Seq: 1, SHA256: other, Size: 1000}
	r.buf.mu.Unlock()

	r.dock(true)
	st := r.waitState(t, wire.SlotFault)
	if st.Fault != FaultReleaseRefuse {
		t.Fatalf("fault %q, want %q", st.Fault, FaultReleaseRefuse)
	}
	time.Sleep(50 * time.Millisecond)
	if got := r.rec.Released(); len(got) != 0 {
		t.Fatalf("released %v: a segment whose hash no receipt names", got)
	}
}
