package wire

import "time"

// Checkout is an officer taking a recorder at shift start, on
// berth/v1/docks/{dock}/checkout: the officer tapped their card at the
// dock, which assigned them the ready recorder in Slot (its LED showed
// which). Until the recorder's next docking, its footage is the officer's:
// the collector names them in timelines and alerts instead of the
// recorder's configured officer. The card itself is not reported.
type Checkout struct {
	Serial  string    `json:"serial"`
	Officer string    `json:"officer"`
	Slot    int       `json:"slot"`
	At      time.Time `json:"at"` // dock clock, at the tap
}

func (b *Checkout) Validate() error {
	if err := ValidID(b.Serial); err != nil {
		return err
	}
	if err := ValidID(b.Officer); err != nil {
		return err
	}
	if b.Slot < 0 || b.Slot > 255 {
		return invalid("slot %d", b.Slot)
	}
	if b.At.IsZero() {
		return invalid("missing at")
	}
	return nil
}
