package dock_test

import (
	"strings"
	"testing"

	"github.com/berthdock/berth/agent/dock"
)

// TestCheckoutConfig: card UIDs and officers in checkout.cards are checked
// at load, so a typo is found before an officer taps in vain.
func TestCheckoutConfig(t *testing.T) {
	for _, tc := range []struct {
		cards map[string]string
		bad   bool
	}{
		{map[string]string{"DEADBEEF": "officer-1", "0452139A7F6180": "officer-2"}, false},
		{map[string]string{"deadbeef": "officer-1"}, true},
		{map[string]string{"DEADBEE": "officer-1"}, true},
		{map[string]string{"DEADBEEF": "officer 1"}, true},
	} {
		c := dock.Config{}
		c.Checkout.Cards = tc.cards
		err := c.Check()
		if got := err != nil && strings.Contains(err.Error(), "checkout.cards"); got != tc.bad {
			t.Errorf("cards %v: error %v", tc.cards, err)
		}
	}
}
