package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// authRec is one "authenticated" record of a dock's chain in a test: the
// recorder, and how the record is made.
type authRec struct {
	serial string
	key    byte   // seed byte of the key that signs the proof (testPriv)
	forge  string // "": genuine; "hash": a hash that does not verify; "none": no proof; "from:<dock>": the proof another dock got
}

// testPriv is the private key of testKey(b).
func testPriv(b byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = b
	return ed25519.NewKeyFromSeed(seed)
}

// proofFor is the proof recorder serial, holding testPriv(key), gives dock
// when challenged at at (DockLink §6.5).
func proofFor(dock, serial string, key byte, at time.Time) *wire.AuthProof {
	p := docklink.AuthProof{Dock: dock, At: at, Serial: serial}
	for i := range p.Salt {
		p.Salt[i] = byte(i) ^ key
	}
	n := p.Nonce()
	p.Signature = [64]byte(ed25519.Sign(testPriv(key), docklink.AuthMessage(n, serial)))
	return wire.ProofOf(p)
}

// authRecords returns dock's audit chain authenticating recs in order.
func authRecords(t *testing.T, dock string, recs ...authRec) []*wire.AuditRecord {
	t.Helper()
	var out []*wire.AuditRecord
	var prev *wire.AuditRecord
	for i, a := range recs {
		at := t0.Add(time.Duration(i) * time.Second)
		r := &wire.AuditRecord{Time: at, Action: wire.AuditAuthenticated, Slot: 1, Serial: a.serial, Detail: "firmware 2.1.0"}
		switch other, copied := strings.CutPrefix(a.forge, "from:"); {
		case copied:
			r.Proof = proofFor(other, a.serial, a.key, at)
		case a.forge != "none":
			r.Proof = proofFor(dock, a.serial, a.key, at)
		}
		if err := r.Seal(dock, prev); err != nil {
			t.Fatal(err)
		}
		if a.forge == "hash" {
			r.Hash = strings.Repeat("ab", 32)
		}
		out = append(out, r)
		prev = r
	}
	return out
}

// Under RecordersAuthenticated a dock handles exactly the recorders it
// proved holding, whatever their unit: an "authenticated" record in its
// chain whose proof verifies with the recorder's enrolled key for this
// dock. The dock's word alone does not count: a record with no proof, a
// proof signed by another key, one copied from another dock's chain, or
// for a recorder not enrolled (no key) gives nothing, and a proof that
// does not verify is counted and alerted. The upload endpoint
// (RecorderAccess) and report screening judge alike, and an
// "authenticated" record arriving in the same batch as the report counts.
func TestAuthenticatedPolicy(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s) // REC-A (u-a, key 1), REC-B (u-b, key 2)
		for _, r := range []Recorder{{Serial: "REC-C", Unit: "u-a", PublicKey: testKey(3)}, {Serial: "REC-D", Unit: "u-b", PublicKey: testKey(4)},
			{Serial: "REC-E", Unit: "u-b", PublicKey: testKey(5)}, {Serial: "REC-F", Unit: "u-b", PublicKey: testKey(6)}} {
			if err := s.EnrollRecorder(ctx, r, "admin-1"); err != nil {
				t.Fatal(err)
			}
		}
		s.policy = RecordersAuthenticated
		now := b.clock.Now()

		// dock-b holds REC-F; dock-a holds REC-B (u-b's, borrowed) and says
		// it holds the rest.
		var msgs []Incoming
		for i, r := range authRecords(t, "dock-b", authRec{serial: "REC-F", key: 6}) {
			msgs = append(msgs, msg(t, "dock-b", "audit-b-"+strconv.Itoa(i), now, r))
		}
		for i, r := range authRecords(t, "dock-a",
			authRec{serial: "REC-B", key: 2},
			authRec{serial: "REC-NEW", key: 7},                     // not enrolled: no key to check it
			authRec{serial: "REC-C", key: 3, forge: "hash"},        // a genuine proof in a record whose hash does not verify
			authRec{serial: "REC-D", key: 4, forge: "none"},        // the dock's word only
			authRec{serial: "REC-E", key: 9},                       // signed by another key
			authRec{serial: "REC-F", key: 6, forge: "from:dock-b"}, // dock-b's proof, copied
		) {
			msgs = append(msgs, msg(t, "dock-a", "audit-a-"+strconv.Itoa(i), now, r))
		}
		commit(t, s, msgs...)

		// The two bad proofs are refusals: counted, alerted to the
		// recorder's unit.
		if n := s.Refused(KindRecorderRefused); n != 2 {
			t.Errorf("%d refusals counted for the bad proofs, want 2", n)
		}
		for _, serial := range []string{"REC-E", "REC-F"} {
			as, err := s.Alerts(ctx, AlertFilter{Kind: KindRecorderRefused, Serial: serial})
			if err != nil || len(as) != 1 || as[0].Dock != "dock-a" || as[0].Unit != "u-b" || !strings.Contains(as[0].Title, "proof") {
				t.Errorf("%s: proof alerts %+v %v", serial, as, err)
			}
		}

		for _, tc := range []struct {
			dock, serial string
			allowed      bool
			alertUnit    string
		}{
			{"dock-a", "REC-B", true, "u-b"},
			{"dock-a", "REC-NEW", false, "u-a"}, // not enrolled: cannot be proved
			{"dock-a", "REC-A", false, "u-a"},   // its own unit's, never authenticated by it
			{"dock-a", "REC-C", false, "u-a"},   // the record's hash does not verify
			{"dock-a", "REC-D", false, "u-b"},   // no proof
			{"dock-a", "REC-E", false, "u-b"},   // the proof does not verify with REC-E's key
			{"dock-a", "REC-F", false, "u-b"},   // the proof names dock-b
			{"dock-b", "REC-F", true, "u-b"},
			{"dock-b", "REC-B", false, "u-b"}, // another dock's records do not count
			{"dock-x", "REC-B", false, ""},
		} {
			a, err := s.RecorderAccess(ctx, tc.dock, tc.serial)
			if err != nil {
				t.Fatal(err)
			}
			if a.Allowed != tc.allowed || a.UnenrolledAccepted || a.AlertUnit != tc.alertUnit || a.Allowed == (a.Reason != "") {
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
					found = found || (al.Dock == tc.dock && al.Unit == tc.alertUnit && strings.Contains(al.Title, "reported on"))
				}
				if err != nil || !found {
					t.Errorf("report: %s reporting %s raised no alert to %s: %+v %v", tc.dock, tc.serial, tc.alertUnit, as, err)
				}
			}
		}

		// In one batch: dock-b's genuine record for REC-A lets its report
		// through; dock-a's proofless one for REC-A does not.
		rec := authRecords(t, "dock-b", authRec{serial: "REC-F", key: 6}, authRec{serial: "REC-A", key: 1})[1]
		commit(t, s, msg(t, "dock-b", "audit-b-1", now, rec), msg(t, "dock-b", "h-b-a", now, health("REC-A", now.Add(-time.Second))))
		if n := b.count(t, s, `SELECT count(*) FROM device_health WHERE dock = 'dock-b' AND serial = 'REC-A'`); n != 1 {
			t.Errorf("REC-A proved and reported by dock-b in one batch: %d rows", n)
		}
		chainA := authRecords(t, "dock-a", authRec{serial: "REC-B", key: 2}, authRec{serial: "REC-NEW", key: 7}, authRec{serial: "REC-C", key: 3, forge: "hash"},
			authRec{serial: "REC-D", key: 4, forge: "none"}, authRec{serial: "REC-E", key: 9}, authRec{serial: "REC-F", key: 6, forge: "from:dock-b"},
			authRec{serial: "REC-A", key: 1, forge: "none"})
		commit(t, s, msg(t, "dock-a", "audit-a-6", now, chainA[6]), msg(t, "dock-a", "h-a-a2", now, health("REC-A", now.Add(-time.Second))))
		if n := b.count(t, s, `SELECT count(*) FROM device_health WHERE dock = 'dock-a' AND serial = 'REC-A'`); n != 0 {
			t.Errorf("REC-A claimed without a proof and reported by dock-a in one batch: %d rows", n)
		}
		if n := b.count(t, s, `SELECT count(*) FROM audit_records WHERE dock = 'dock-a' AND status = 'verified'`); n != 6 {
			t.Errorf("dock-a's chain: %d records verified, want 6 (all but the forged hash): records with bad proofs are kept", n)
		}

		// A recorder re-enrolled with another key must be proved again.
		if err := s.EnrollRecorder(ctx, Recorder{Serial: "REC-B", Unit: "u-b", PublicKey: testKey(8)}, "admin-1"); err != nil {
			t.Fatal(err)
		}
		if a, err := s.RecorderAccess(ctx, "dock-a", "REC-B"); err != nil || a.Allowed {
			t.Errorf("REC-B re-keyed: dock-a's old proof still counts: %+v %v", a, err)
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

// A record with a proof that arrives before its predecessor is stored
// pending and verified when the predecessor comes: the store keeps the
// proof the chain hash covers, and AuditRecords returns it as sent.
func TestAuditProofOutOfOrder(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s)
		s.policy = RecordersAuthenticated
		now := b.clock.Now()
		chain := authRecords(t, "dock-a", authRec{serial: "REC-A", key: 1}, authRec{serial: "REC-B", key: 2})
		commit(t, s, msg(t, "dock-a", "audit-1", now, chain[1]))
		commit(t, s, msg(t, "dock-a", "audit-0", now, chain[0]))
		recs, err := s.AuditRecords(ctx, "dock-a", 0, 0)
		if err != nil || len(recs) != 2 {
			t.Fatalf("records %+v %v", recs, err)
		}
		for i, r := range recs {
			p, want := r.Record.Proof, chain[i].Proof
			if r.Status != AuditVerified || p == nil || !p.At.Equal(want.At) || p.Salt != want.Salt || p.Signature != want.Signature {
				t.Errorf("record %d: %s, proof %+v, want %+v", i, r.Status, p, want)
			}
		}
		for _, serial := range []string{"REC-A", "REC-B"} {
			if a, err := s.RecorderAccess(ctx, "dock-a", serial); err != nil || !a.Allowed {
				t.Errorf("%s: %+v %v", serial, a, err)
			}
		}
	})
}

// With Opts.ProofMaxAge, under RecordersAuthenticated, a dock's proof of
// holding a recorder counts only while its signed time is that recent by
// the store's clock: within it the dock handles the recorder, past it the
// dock is refused (saying when it last proved holding it) for uploads and
// reports alike, and a newer proof, even in the batch of the report,
// restores it. A proof dated ahead counts from its arrival, not its date;
// a proof of unknown time (stored before migration 0019) counts only
// without a limit; and no limit (0) is the behaviour without this option.
func TestAuthenticatedProofMaxAge(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		const maxAge = 30 * 24 * time.Hour
		o := b.opts()
		o.Recorders, o.ProofMaxAge = RecordersAuthenticated, maxAge
		s, err := Open(ctx, b.dsn, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		enrolTwoUnits(t, s) // REC-A (u-a, key 1), REC-B (u-b, key 2)
		// dock-a proved holding REC-B at t0, an hour before the clock.
		chain := authRecords(t, "dock-a", authRec{serial: "REC-B", key: 2})
		commit(t, s, msg(t, "dock-a", "audit-0", b.clock.Now(), chain[0]))
		if n := b.count(t, s, `SELECT count(*) FROM audit_records WHERE dock = 'dock-a' AND idx = 0 AND proof_at = ?`, t0.UnixNano()); n != 1 {
			t.Fatalf("the proof's signed time %s was not stored as proof_at", t0)
		}

		reports := 0
		check := func(what, serial string, allowed bool, reason string) {
			t.Helper()
			a, err := s.RecorderAccess(ctx, "dock-a", serial)
			if err != nil || a.Allowed != allowed || !strings.Contains(a.Reason, reason) {
				t.Errorf("%s: upload: dock-a handling %s: %+v %v; want allowed %v, reason with %q", what, serial, a, err, allowed, reason)
			}
			reports++
			at := b.clock.Now().Add(-time.Minute)
			commit(t, s, msg(t, "dock-a", "h-"+strconv.Itoa(reports), b.clock.Now(), health(serial, at)))
			n := b.count(t, s, `SELECT count(*) FROM device_health WHERE dock = 'dock-a' AND serial = ? AND docked_ns = ?`, serial, at.UnixNano())
			if (n == 1) != allowed {
				t.Errorf("%s: report: dock-a reporting %s: %d rows stored, want allowed %v", what, serial, n, allowed)
			}
		}
		check("proved an hour ago", "REC-B", true, "")
		b.clock.Advance(maxAge - 2*time.Hour)
		check("proved just within the max age", "REC-B", true, "")
		refusals := s.Refused(KindRecorderRefused)
		b.clock.Advance(2 * time.Hour)
		stale := fmt.Sprintf("dock dock-a last proved holding recorder REC-B at %s, more than 720h0m0s ago", t0.Format(time.RFC3339))
		check("proved more than the max age ago", "REC-B", false, stale)
		if n := s.Refused(KindRecorderRefused); n != refusals+1 {
			t.Errorf("the stale report: %d refusals counted, want %d", n, refusals+1)
		}
		as, err := s.Alerts(ctx, AlertFilter{Kind: KindRecorderRefused, Serial: "REC-B"})
		if err != nil || len(as) != 1 || as[0].Dock != "dock-a" || as[0].Unit != "u-b" || !strings.Contains(as[0].Detail, stale) {
			t.Errorf("the stale report raised %+v %v; want one alert to u-b saying %q", as, err, stale)
		}

		// No limit: the old proof counts, as without the option.
		s.proofMaxAge = 0
		check("no max age", "REC-B", true, "")
		s.proofMaxAge = maxAge

		// A newer proof, in the batch of a report, restores it.
		now := b.clock.Now()
		again := &wire.AuditRecord{Time: now, Action: wire.AuditAuthenticated, Slot: 1, Serial: "REC-B", Detail: "firmware 2.1.0",
			Proof: proofFor("dock-a", "REC-B", 2, now.Add(-time.Minute))}
		if err := again.Seal("dock-a", chain[0]); err != nil {
			t.Fatal(err)
		}
		at := now.Add(-30 * time.Second)
		commit(t, s, msg(t, "dock-a", "audit-1", now, again), msg(t, "dock-a", "h-again", now, health("REC-B", at)))
		if n := b.count(t, s, `SELECT count(*) FROM device_health WHERE dock = 'dock-a' AND serial = 'REC-B' AND docked_ns = ?`, at.UnixNano()); n != 1 {
			t.Errorf("REC-B proved again and reported in one batch: %d rows", n)
		}
		check("proved again", "REC-B", true, "")

		// A proof dated a year ahead counts from its arrival.
		ahead := &wire.AuditRecord{Time: now, Action: wire.AuditAuthenticated, Slot: 1, Serial: "REC-A", Detail: "firmware 2.1.0",
			Proof: proofFor("dock-a", "REC-A", 1, now.Add(365*24*time.Hour))}
		if err := ahead.Seal("dock-a", again); err != nil {
			t.Fatal(err)
		}
		commit(t, s, msg(t, "dock-a", "audit-2", now, ahead))
		check("proof dated ahead, just arrived", "REC-A", true, "")
		b.clock.Advance(maxAge + time.Minute)
		check("proof dated ahead, arrived more than the max age ago", "REC-A", false,
			fmt.Sprintf("last proved holding recorder REC-A at %s, more than", now.Format(time.RFC3339)))
		check("proved again, then more than the max age ago", "REC-B", false, "more than 720h0m0s ago")

		// A proof of unknown time (stored before its time was kept).
		if _, err := s.db.ExecContext(ctx, `UPDATE audit_records SET proof_at = 0`); err != nil {
			t.Fatal(err)
		}
		check("unknown time, with a max age", "REC-B", false, "at an unknown time")
		s.proofMaxAge = 0
		check("unknown time, no max age", "REC-B", true, "")
	})
}

// A negative proof max age is refused.
func TestProofMaxAgeNegative(t *testing.T) {
	b := newSQLite(t)
	o := b.opts()
	o.ProofMaxAge = -time.Hour
	s, err := Open(context.Background(), b.dsn, o)
	if s != nil {
		s.Close()
	}
	if !errors.Is(err, ErrArgument) || !strings.Contains(err.Error(), "proof max age") {
		t.Fatalf("Open with a negative proof max age: %v; want ErrArgument", err)
	}
}
