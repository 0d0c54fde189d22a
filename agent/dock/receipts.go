package dock

import (
	"context"
	"fmt"
	"sync"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/cloud/wire"
)

// receiptHub lets slots wait for the uploader: the buffer is the truth,
// notify wakes every waiter to look again.
type receiptHub struct {
	buf slot.Buffer
	mu  sync.Mutex
	ch  chan struct{}
}

func newReceiptHub(b slot.Buffer) *receiptHub { return &receiptHub{buf: b, ch: make(chan struct{})} }

func (h *receiptHub) notify() {
	h.mu.Lock()
	close(h.ch)
	h.ch = make(chan struct{})
	h.mu.Unlock()
}

// Wait implements slot.Receipts.
func (h *receiptHub) Wait(ctx context.Context, serial string, seq uint64) (wire.Receipt, error) {
	for {
		h.mu.Lock()
		ch := h.ch
		h.mu.Unlock()
		k, err := h.buf.Lookup(serial, seq)
		if err != nil {
			return wire.Receipt{}, err
		}
		if k.Phase >= buffer.PhaseUploaded && k.Phase != buffer.PhaseFaulty {
			if k.Receipt == nil {
				return wire.Receipt{}, fmt.Errorf("dock: %s/%d uploaded without a receipt", serial, seq)
			}
			return *k.Receipt, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return wire.Receipt{}, ctx.Err()
		}
	}
}
