package buffer

import (
	"errors"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// TestOfferSurvivesReopen: a slot's checkout offer is kept across a
// restart, slots do not share it, forgetting it is durable too, and an
// offer that does not hold together is refused (kept or read).
func TestOfferSurvivesReopen(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	if _, found, err := b.Offer(3); found || err != nil {
		t.Fatalf("fresh buffer: found %v, %v", found, err)
	}
	at := t0.Add(time.Hour).Add(7 * time.Nanosecond)
	o := Offer{Slot: 3, Serial: "REC-1", Officer: "officer-7", At: at, Until: at.Add(time.Minute)}
	if err := b.KeepOffer(o); err != nil {
		t.Fatal(err)
	}
	if err := b.KeepOffer(Offer{Slot: 1, Serial: "REC-2", Officer: "officer-8", At: at, Until: at.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Offer{
		{Slot: 2, Serial: "a/b", Officer: "o", At: at, Until: at},
		{Slot: 2, Serial: "R", Officer: "", At: at, Until: at},
		{Slot: 2, Serial: "R", Officer: "o", Until: at},
		{Slot: 2, Serial: "R", Officer: "o", At: at, Until: at.Add(-time.Second)},
		{Slot: -1, Serial: "R", Officer: "o", At: at, Until: at},
		{Slot: 1 << 16, Serial: "R", Officer: "o", At: at, Until: at},
	} {
		if err := b.KeepOffer(bad); !errors.Is(err, ErrBadOffer) {
			t.Errorf("kept %+v: %v", bad, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = f.open(t)
	got, found, err := b.Offer(3)
	if err != nil || !found || got.Serial != o.Serial || got.Officer != o.Officer || !got.At.Equal(o.At) || !got.Until.Equal(o.Until) {
		t.Fatalf("after reopen: %+v %v %v", got, found, err)
	}
	if _, found, _ := b.Offer(2); found {
		t.Error("slot 2 found an offer it was never made")
	}
	if err := b.ForgetOffer(3); err != nil {
		t.Fatal(err)
	}
	if err := b.ForgetOffer(3); err != nil {
		t.Errorf("forgetting twice: %v", err)
	}
	// A record that does not hold together (written past KeepOffer) is
	// an error, not an offer.
	k, _ := offerKey(5)
	if err := b.db.Update(func(txn *badger.Txn) error {
		return txn.Set(k, []byte(`{"slot":5,"serial":"R","officer":"o"}`))
	}); err != nil {
		t.Fatal(err)
	}
	if _, found, err := b.Offer(5); found || !errors.Is(err, ErrBadOffer) {
		t.Errorf("an offer without a tap: found %v, %v", found, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = f.open(t)
	defer b.Close()
	if _, found, err := b.Offer(3); found || err != nil {
		t.Errorf("forgotten offer back after reopen: %v %v", found, err)
	}
	if o, found, _ := b.Offer(1); !found || o.Officer != "officer-8" {
		t.Errorf("slot 1's offer: %+v %v", o, found)
	}
}
