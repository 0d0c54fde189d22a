package store

import (
	"context"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// TestFirmwareProgress: the newest report of each recorder in a campaign
// is kept, whatever order the reports arrive in; redelivery changes
// nothing.
func TestFirmwareProgress(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		p := func(serial, state string, held int64, at time.Time) *wire.FirmwareProgress {
			return &wire.FirmwareProgress{Campaign: "fw-2.5.0", Serial: serial, Slot: 1, Model: "R1", Version: "2.5.0",
				Running: "2.4.1", State: state, Held: held, Size: 100, At: at}
		}
		commit(t, s, msg(t, "dock-1", "f1", t0, p("R1", wire.FwTransferring, 10, t0)),
			msg(t, "dock-1", "f2", t0, p("R1", wire.FwTransferring, 50, t0.Add(time.Second))),
			msg(t, "dock-1", "f3", t0, p("R2", wire.FwRefused, 0, t0)))
		rolled := p("R1", wire.FwRolledBack, 100, t0.Add(time.Minute))
		rolled.Detail = "boot self-test failed"
		commit(t, s, msg(t, "dock-2", "g1", t0, rolled))
		// A late, older report does not win.
		commit(t, s, msg(t, "dock-1", "f4", t0, p("R1", wire.FwRebooting, 100, t0.Add(30*time.Second))))
		if dup := commit(t, s, msg(t, "dock-2", "g1", t0, rolled)); !dup[0] {
			t.Fatal("redelivery not seen as a duplicate")
		}
		got, err := s.FirmwareProgress(ctx, "fw-2.5.0")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Serial != "R1" || got[0].State != wire.FwRolledBack || got[0].Dock != "dock-2" ||
			got[0].Detail != "boot self-test failed" || !got[0].At.Equal(t0.Add(time.Minute)) || got[1].State != wire.FwRefused {
			t.Fatalf("progress %+v", got)
		}
		if other, err := s.FirmwareProgress(ctx, "other"); err != nil || len(other) != 0 {
			t.Fatalf("other campaign: %+v %v", other, err)
		}
	})
}
