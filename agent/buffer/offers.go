package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// Offer is a checkout waiting for its officer (agent/slot, checkout.go):
// after a card tap the slot's LED shows Officer which recorder to take,
// until Until. The dock keeps it per slot while it stands, so a restart
// or crash between the tap and the officer taking the recorder still
// reports who took it. It is not evidence: it names whom the footage the
// recorder records next belongs to.
type Offer struct {
	Slot    int       `json:"slot"`
	Serial  string    `json:"serial"`
	Officer string    `json:"officer"`
	At      time.Time `json:"at"`    // the tap (dock clock)
	Until   time.Time `json:"until"` // the offer lapses
	// Docking is the docking the recorder was offered in: a session after
	// a restart that finds the same recorder, unchanged, continues it
	// (agent/slot, continued.go), so the collector does not see the
	// recorder docked again after the tap (which would end the checkout).
	Docking OfferDocking `json:"docking,omitzero"`
}

// OfferDocking is what a later session needs of the docking an offer was
// made in: its docked_at, the recorder's last sequence number and
// recording state then, and the docking's clock sync.
type OfferDocking struct {
	At            time.Time `json:"at"`
	LastSeq       uint64    `json:"last_seq"`
	Recording     bool      `json:"recording"`
	ClockSet      bool      `json:"clock_set"`
	ClockOffsetMs int64     `json:"clock_offset_ms"`
}

// ErrBadOffer is returned for an offer that cannot be kept, and for a kept
// one that does not hold together.
var ErrBadOffer = errors.New("buffer: bad checkout offer")

func (o Offer) check(slot int) error {
	switch {
	case o.Slot != slot:
		return fmt.Errorf("%w: slot %d kept as slot %d's", ErrBadOffer, o.Slot, slot)
	case wire.ValidID(o.Serial) != nil:
		return fmt.Errorf("%w: serial %q", ErrBadOffer, o.Serial)
	case wire.ValidID(o.Officer) != nil:
		return fmt.Errorf("%w: officer %q", ErrBadOffer, o.Officer)
	case o.At.IsZero() || o.Until.Before(o.At):
		return fmt.Errorf("%w: from %s until %s", ErrBadOffer, o.At, o.Until)
	}
	return nil
}

// offerKey is "buffer/o/" slot(2): one per slot.
func offerKey(slot int) ([]byte, error) {
	if slot < 0 || slot > 0xffff {
		return nil, fmt.Errorf("%w: slot %d", ErrBadOffer, slot)
	}
	return binary.BigEndian.AppendUint16([]byte(Prefix+string(tagOffer)+"/"), uint16(slot)), nil
}

// KeepOffer durably records the slot's standing offer (synced before it
// returns), replacing any earlier one.
func (b *Buffer) KeepOffer(o Offer) error {
	k, err := offerKey(o.Slot)
	if err != nil {
		return err
	}
	if err := o.check(o.Slot); err != nil {
		return err
	}
	return b.keep(k, fmt.Sprintf("checkout offer of slot %d", o.Slot), o)
}

// Offer returns the offer kept for slot; found is false if none stands. A
// record that does not decode or hold together is an error wrapping
// ErrCorrupt or ErrBadOffer (the slot logs it and forgets it).
func (b *Buffer) Offer(slot int) (o Offer, found bool, err error) {
	k, err := offerKey(slot)
	if err != nil {
		return Offer{}, false, err
	}
	if found, err = b.readKept(k, fmt.Sprintf("checkout offer of slot %d", slot), &o); err != nil || !found {
		return Offer{}, false, err
	}
	if err := o.check(slot); err != nil {
		return Offer{}, false, err
	}
	return o, true, nil
}

// ForgetOffer durably deletes slot's offer (taken, lapsed or withdrawn).
func (b *Buffer) ForgetOffer(slot int) error {
	k, err := offerKey(slot)
	if err != nil {
		return err
	}
	return b.forget(k, fmt.Sprintf("checkout offer of slot %d", slot))
}
