package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// authRecords returns dock's audit chain authenticating serials in order;
// the record for a serial in forged carries a hash that does not verify.
func authRecords(t *testing.T, dock string, serials []string, forged map[string]bool) []*wire.AuditRecord {
	t.Helper()
	var out []*wire.AuditRecord
	var prev *wire.AuditRecord
	for i, s := range serials {
		r := &wire.AuditRecord{Time: t0.Add(time.Duration(i) * time.Second), Action: wire.AuditAuthenticated, Slot: 1, Serial: s,
			Detail: "firmware 2.1.0"}
		if err := r.Seal(dock, prev); err != nil {
			t.Fatal(err)
		}
		if forged[s] {
			r.Hash = strings.Repeat("ab", 32)
		}
		out = append(out, r)
		prev = r
	}
	return out
}

// Under RecordersAuthenticated a dock handles exactly the recorders its
// audit chain says it authenticated, whatever their unit; the upload
// endpoint (RecorderAccess) and report screening judge alike, and an
// "authenticated" record arriving in the same batch as the report counts.
func TestAuthenticatedPolicy(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s)
		s.policy = RecordersAuthenticated
		now := b.clock.Now()

		// dock-a authenticated REC-B (u-b's, borrowed) and REC-NEW (not
		// enrolled); its record for REC-C does not verify.
		var msgs []Incoming
		for i, r := range authRecords(t, "dock-a", []string{"REC-B", "REC-NEW", "REC-C"}, map[string]bool{"REC-C": true}) {
			msgs = append(msgs, msg(t, "dock-a", "audit-a-"+string(rune('0'+i)), now, r))
		}
		commit(t, s, msgs...)

		for _, tc := range []struct {
			dock, serial        string
			allowed, unenrolled bool
			alertUnit           string
		}{
			{"dock-a", "REC-B", true, false, "u-b"},
			{"dock-a", "REC-NEW", true, true, "u-a"},
			{"dock-a", "REC-A", false, false, "u-a"}, // its own unit's, never authenticated by it
			{"dock-a", "REC-C", false, false, "u-a"}, // the record's hash does not verify
			{"dock-b", "REC-B", false, false, "u-b"}, // another dock's records do not count
			{"dock-x", "REC-B", false, false, ""},
		} {
			a, err := s.RecorderAccess(ctx, tc.dock, tc.serial)
			if err != nil {
				t.Fatal(err)
			}
			if a.Allowed != tc.allowed || a.UnenrolledAccepted != tc.unenrolled || a.AlertUnit != tc.alertUnit || a.Allowed == (a.Reason != "") {
				t.Errorf("upload: %s handling %s: %+v", tc.dock, tc.serial, a)
			}
			if tc.dock == "dock-x" {
				continue
			}
			// The same judgement on a health report.
			id := "h-" + tc.dock + "-" + tc.serial
			commit(t, s, msg(t, tc.dock, id, now, health(tc.serial, now.Add(-time.Minute))))
			n := b.count(t, s, `SELECT count(*) FROM device_health WHERE dock = ? AND serial = ?`, tc.dock, tc.serial)
			if (n == 1) != tc.allowed {
				t.Errorf("report: %s reporting %s: %d rows stored, allowed %v", tc.dock, tc.serial, n, tc.allowed)
			}
			if !tc.allowed {
				as, err := s.Alerts(ctx, AlertFilter{Kind: KindRecorderRefused, Serial: tc.serial})
				found := false
				for _, al := range as {
					found = found || (al.Dock == tc.dock && al.Unit == tc.alertUnit)
				}
				if err != nil || !found {
					t.Errorf("report: %s reporting %s raised no alert to %s: %+v %v", tc.dock, tc.serial, tc.alertUnit, as, err)
				}
			}
		}

		// dock-b authenticates REC-A and reports it in one batch.
		rec := authRecords(t, "dock-b", []string{"REC-A"}, nil)[0]
		commit(t, s, msg(t, "dock-b", "audit-b-0", now, rec), msg(t, "dock-b", "h-b-a", now, health("REC-A", now.Add(-time.Second))))
		if n := b.count(t, s, `SELECT count(*) FROM device_health WHERE dock = 'dock-b' AND serial = 'REC-A'`); n != 1 {
			t.Errorf("REC-A authenticated and reported by dock-b in one batch: %d rows", n)
		}
	})
}

// A health report dated long before its recorder's enrolment changes
// nothing and raises a report-time alert, as a future-dated one does; one
// within BeforeEnrolment is kept. Each refusal is counted (Store.Refused).
func TestReportBeforeEnrolment(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s) // enrolled at the fake clock's now
		now := b.clock.Now()
		for _, tc := range []struct {
			name   string
			at     time.Time
			stored bool
		}{
			{"an hour before enrolment", now.Add(-time.Hour), true},
			{"just within the bound", now.Add(-DefaultBeforeEnrolment + time.Minute), true},
			{"a month before enrolment", now.Add(-30 * 24 * time.Hour), false},
			{"years before enrolment", now.Add(-3 * 365 * 24 * time.Hour), false},
		} {
			id := "early-" + tc.name
			commit(t, s, msg(t, "dock-a", id, now, health("REC-A", tc.at)))
			n := b.count(t, s, `SELECT count(*) FROM device_health WHERE dock = 'dock-a' AND docked_ns = ?`, tc.at.UnixNano())
			if (n == 1) != tc.stored {
				t.Errorf("%s: %d rows stored, want stored %v", tc.name, n, tc.stored)
			}
		}
		as, err := s.Alerts(ctx, AlertFilter{Kind: KindReportTime, Serial: "REC-A"})
		if err != nil || len(as) != 1 || as[0].Unit != "u-a" || as[0].Dock != "dock-a" || !strings.Contains(as[0].Title, "before its enrolment") {
			t.Errorf("report-time alerts %+v %v: want one for dock-a/REC-A", as, err)
		}
		if n := s.Refused(KindReportTime); n != 2 {
			t.Errorf("report-time refusals counted %d, want 2", n)
		}
		// A recorder not enrolled has no enrolment time to be early for.
		old := now.Add(-30 * 24 * time.Hour)
		commit(t, s, msg(t, "dock-a", "early-unenrolled", now, health("REC-NEW", old)))
		if n := b.count(t, s, `SELECT count(*) FROM device_health WHERE serial = 'REC-NEW'`); n != 1 {
			t.Errorf("REC-NEW (not enrolled) dated a month back: %d rows", n)
		}
	})
}
