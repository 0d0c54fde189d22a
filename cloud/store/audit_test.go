package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

func auditMsgs(t *testing.T, dock, prefix string, recs ...*wire.AuditRecord) []Incoming {
	var out []Incoming
	for _, r := range recs {
		out = append(out, msg(t, dock, fmt.Sprintf("%s%d", prefix, r.Index), r.Time, r))
	}
	return out
}

func statuses(t *testing.T, s *Store, dock string) string {
	t.Helper()
	recs, err := s.AuditRecords(context.Background(), dock, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, r := range recs {
		out += fmt.Sprintf("%d:%s ", r.Record.Index, r.Status)
	}
	return out
}

func TestAuditChain(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		c := chain(t, "dock-1", 6)

		// Out of order, across batches (several collectors share the
		// subscription): 3 waits for 2; 4's link to 3 checks already.
		commit(t, s, auditMsgs(t, "dock-1", "a", c[3], c[4])...)
		if got := statuses(t, s, "dock-1"); got != "3:pending 4:verified " {
			t.Errorf("after 3,4: %s", got)
		}
		b.clock.Advance(time.Hour)
		stalled, err := s.AuditStalled(ctx, b.clock.Now(), 0)
		if err != nil || len(stalled) != 1 || stalled[0].Record.Index != 3 {
			t.Errorf("stalled = %+v, %v; want record 3 waiting for 2", stalled, err)
		}
		commit(t, s, auditMsgs(t, "dock-1", "a", c[1], c[0])...)
		commit(t, s, auditMsgs(t, "dock-1", "a", c[2], c[5])...)
		b.clock.Advance(time.Hour)
		if stalled, err := s.AuditStalled(ctx, b.clock.Now(), 0); err != nil || len(stalled) != 0 {
			t.Errorf("stalled after the gap filled = %+v, %v", stalled, err)
		}
		if got, want := statuses(t, s, "dock-1"), "0:verified 1:verified 2:verified 3:verified 4:verified 5:verified "; got != want {
			t.Errorf("statuses %q, want %q", got, want)
		}
		// The same record under another message id changes nothing.
		commit(t, s, msg(t, "dock-1", "again", c[2].Time, c[2]))
		if brk, err := s.AuditBreaks(ctx); err != nil || len(brk) != 0 {
			t.Fatalf("intact chain: breaks %+v, %v", brk, err)
		}
		// The records read back re-verify: times keep their nanoseconds.
		recs, _ := s.AuditRecords(ctx, "dock-1", 0, 0)
		for i := 1; i < len(recs); i++ {
			if err := recs[i].Record.VerifyLink("dock-1", &recs[i-1].Record); err != nil {
				t.Errorf("stored record %d does not re-verify: %v", i, err)
			}
		}
	})
}

func TestAuditBreaksFlagged(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		c := chain(t, "dock-1", 4)
		commit(t, s, auditMsgs(t, "dock-1", "a", c[0], c[1])...)

		// Edited after sealing: the hash no longer matches.
		edited := *c[2]
		edited.Detail = "nothing happened"
		// A fork: another, self-consistent record claiming index 1.
		fork := &wire.AuditRecord{Time: t0.Add(time.Hour), Action: wire.AuditReleased, Slot: 1, Serial: "R9"}
		if err := fork.Seal("dock-1", c[0]); err != nil {
			t.Fatal(err)
		}
		// A record that hashes right but does not follow its predecessor
		// (records were dropped in between).
		skip := &wire.AuditRecord{Time: t0.Add(2 * time.Hour), Action: wire.AuditFault, Slot: -1}
		if err := skip.Seal("dock-2", nil); err != nil {
			t.Fatal(err)
		}
		other := chain(t, "dock-2", 3)
		skip.Index, skip.Prev = 2, other[0].Hash // claims to follow index 1, links to 0
		skip.Hash, _ = skip.ComputeHash("dock-2")

		commit(t, s, msg(t, "dock-1", "edited", edited.Time, &edited), msg(t, "dock-1", "fork", fork.Time, fork))
		commit(t, s, auditMsgs(t, "dock-2", "b", other[0], other[1])...)
		commit(t, s, msg(t, "dock-2", "skip", skip.Time, skip))

		brk, err := s.AuditBreaks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]AuditBreak{}
		for _, x := range brk {
			got[fmt.Sprintf("%s/%d/%s", x.Dock, x.Index, x.Kind)] = x
		}
		for _, want := range []string{"dock-1/2/hash", "dock-1/1/fork", "dock-2/2/link"} {
			if _, ok := got[want]; !ok {
				t.Errorf("break %s not flagged; got %v", want, brk)
			}
		}
		if len(brk) != 3 {
			t.Errorf("%d breaks, want 3: %+v", len(brk), brk)
		}
		if x := got["dock-1/1/fork"]; x.Record != *fork || x.MsgID != "fork" {
			t.Errorf("fork break keeps record %+v msg %q, want the forked record", x.Record, x.MsgID)
		}
		// Nothing is dropped silently: the edited and the skipping records
		// are stored, marked broken; the genuine index 1 stays.
		if st := statuses(t, s, "dock-1"); st != "0:verified 1:verified 2:broken " {
			t.Errorf("dock-1 statuses %q", st)
		}
		if st := statuses(t, s, "dock-2"); st != "0:verified 1:verified 2:broken " {
			t.Errorf("dock-2 statuses %q", st)
		}
		// The genuine record 3 after the edited 2 does not link to what is
		// stored: flagged too.
		commit(t, s, msg(t, "dock-1", "a3", c[3].Time, c[3]))
		if st := statuses(t, s, "dock-1"); st != "0:verified 1:verified 2:broken 3:verified " {
			t.Errorf("dock-1 statuses after 3: %q", st)
		}
	})
}

func TestAuditPendingThenBroken(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		c := chain(t, "dock-1", 3)
		// Record 2 arrives first; then a forged record 1 (valid hash, but
		// record 2 does not follow it): 2 becomes broken when 1 arrives.
		forged := &wire.AuditRecord{Time: t0, Action: wire.AuditConfig, Slot: -1, Detail: "forged"}
		if err := forged.Seal("dock-1", c[0]); err != nil {
			t.Fatal(err)
		}
		commit(t, s, msg(t, "dock-1", "r2", c[2].Time, c[2]))
		commit(t, s, msg(t, "dock-1", "r0", c[0].Time, c[0]), msg(t, "dock-1", "f1", forged.Time, forged))
		if st := statuses(t, s, "dock-1"); st != "0:verified 1:verified 2:broken " {
			t.Errorf("statuses %q", st)
		}
		brk, err := s.AuditBreaks(context.Background())
		if err != nil || len(brk) != 1 || brk[0].Index != 2 || brk[0].Kind != BreakLink {
			t.Errorf("breaks %+v, %v; want a link break at 2", brk, err)
		}
	})
}
