package slot

import (
	"testing"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Every DockLink stop cause maps to a word the wire accepts, each to its
// own, and an unknown code to unknown.
func TestStopCauseMapping(t *testing.T) {
	seen := map[string]docklink.StopCause{}
	for c := docklink.StopCause(0); c.Valid(); c++ {
		w := stopCause(c)
		if !wire.ValidStopCause(w) {
			t.Errorf("%v maps to %q, not a wire stop cause", c, w)
		}
		if prev, dup := seen[w]; dup {
			t.Errorf("%v and %v both map to %q", prev, c, w)
		}
		seen[w] = c
		if w != c.String() {
			t.Errorf("%v maps to %q: the recorder and the collector spell it differently", c, w)
		}
	}
	if got := stopCause(docklink.StopCause(200)); got != wire.StopUnknown {
		t.Errorf("unknown code maps to %q, want %q", got, wire.StopUnknown)
	}
}
