package store

import (
	"context"
	"errors"
	"slices"
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

func TestFirmwareCampaignStages(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		c := FirmwareCampaign{ID: "r1-2.5.0", Model: "R1", Version: "2.5.0", Size: 100, SHA256: hash64("a"), Signature: "c2ln",
			Image: "/srv/fw/r1-2.5.0.bin", Pilot: []string{"R2", "R1", "R2"}, CreatedBy: "custodian-1"}
		if err := s.CreateFirmwareCampaign(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateFirmwareCampaign(ctx, c); !errors.Is(err, ErrConflict) {
			t.Fatalf("second create: %v", err)
		}
		bad := c
		bad.ID, bad.Pilot = "other", nil
		if err := s.CreateFirmwareCampaign(ctx, bad); !errors.Is(err, ErrArgument) {
			t.Fatalf("no pilot: %v", err)
		}
		got, err := s.FirmwareCampaignByID(ctx, "r1-2.5.0")
		if err != nil || got.Stage != StagePilot || !slices.Equal(got.Targets(), []string{"R1", "R2"}) || !got.Advanced.IsZero() {
			t.Fatalf("pilot: %+v %v", got, err)
		}
		if err := s.AdvanceFirmwareCampaign(ctx, "r1-2.5.0"); err != nil {
			t.Fatal(err)
		}
		if err := s.AdvanceFirmwareCampaign(ctx, "r1-2.5.0"); !errors.Is(err, ErrState) {
			t.Fatalf("advance twice: %v", err)
		}
		if err := s.AdvanceFirmwareCampaign(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("advance unknown: %v", err)
		}
		got, _ = s.FirmwareCampaignByID(ctx, "r1-2.5.0")
		if got.Stage != StageAll || got.Targets() != nil || got.Advanced.IsZero() {
			t.Fatalf("advanced: %+v", got)
		}
		if all, err := s.FirmwareCampaigns(ctx); err != nil || len(all) != 1 {
			t.Fatalf("list: %+v %v", all, err)
		}
	})
}
