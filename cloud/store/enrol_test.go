package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
)

func testKey(b byte) ed25519.PublicKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = b
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

// enrolTwoUnits enrols units u-a and u-b, docks dock-a and dock-b in them,
// and recorders REC-A (u-a) and REC-B (u-b).
func enrolTwoUnits(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	for _, u := range []string{"u-a", "u-b"} {
		if err := s.EnrollUnit(ctx, Unit{ID: u, Custodian: "cust-" + u}, "admin-1"); err != nil {
			t.Fatal(err)
		}
	}
	for d, u := range map[string]string{"dock-a": "u-a", "dock-b": "u-b"} {
		if err := s.EnrollDockBy(ctx, d, u, "token-of-"+d+"-0123456789", "admin-1"); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range []Recorder{{Serial: "REC-A", Unit: "u-a", PublicKey: testKey(1)}, {Serial: "REC-B", Unit: "u-b", PublicKey: testKey(2)}} {
		if err := s.EnrollRecorder(ctx, r, "admin-1"); err != nil {
			t.Fatalf("recorder %d: %v", i, err)
		}
	}
}

func TestEnrolment(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		enrolTwoUnits(t, s)

		// Refusals: an unknown unit, no author, a bad key.
		if err := s.EnrollRecorder(ctx, Recorder{Serial: "REC-C", Unit: "u-nope", PublicKey: testKey(3)}, "admin-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("recorder in an unknown unit: %v, want ErrNotFound", err)
		}
		if err := s.EnrollDockBy(ctx, "dock-c", "u-nope", "token-of-dock-c-0123456789", "admin-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("dock in an unknown unit: %v, want ErrNotFound", err)
		}
		if err := s.EnrollRecorder(ctx, Recorder{Serial: "REC-C", Unit: "u-a", PublicKey: testKey(3)}, ""); !errors.Is(err, ErrArgument) {
			t.Errorf("recorder without author: %v, want ErrArgument", err)
		}
		if err := s.EnrollRecorder(ctx, Recorder{Serial: "REC-C", Unit: "u-a", PublicKey: testKey(3)[:31]}, "admin-1"); !errors.Is(err, ErrArgument) {
			t.Errorf("short key: %v, want ErrArgument", err)
		}

		rs, err := s.Recorders(ctx, "u-b")
		if err != nil || len(rs) != 1 || rs[0].Serial != "REC-B" || !rs[0].PublicKey.Equal(testKey(2)) || rs[0].EnrolledBy != "admin-1" {
			t.Fatalf("Recorders(u-b) = %+v, %v", rs, err)
		}
		units, err := s.Units(ctx)
		if err != nil || len(units) != 2 || units[1].Custodian != "cust-u-b" {
			t.Fatalf("Units = %+v, %v", units, err)
		}
		if ok, err := s.CheckDockToken(ctx, "dock-a", "token-of-dock-a-0123456789"); !ok || err != nil {
			t.Fatalf("enrolled dock's token refused: %v %v", ok, err)
		}

		for _, tc := range []struct {
			policy              RecorderPolicy
			dock, serial        string
			allowed, unenrolled bool
			alertUnit           string
		}{
			{RecordersProtected, "dock-a", "REC-A", true, false, "u-a"},
			{RecordersProtected, "dock-a", "REC-B", false, false, "u-b"},
			{RecordersProtected, "dock-b", "REC-A", false, false, "u-a"},
			{RecordersProtected, "dock-a", "REC-NEW", true, true, "u-a"},
			{RecordersProtected, "dock-x", "REC-A", false, false, ""},
			{RecordersEnrolledOnly, "dock-a", "REC-A", true, false, "u-a"},
			{RecordersEnrolledOnly, "dock-a", "REC-B", false, false, "u-b"},
			{RecordersEnrolledOnly, "dock-a", "REC-NEW", false, false, "u-a"},
		} {
			s.policy = tc.policy
			a, err := s.RecorderAccess(ctx, tc.dock, tc.serial)
			if err != nil {
				t.Fatal(err)
			}
			if a.Allowed != tc.allowed || a.UnenrolledAccepted != tc.unenrolled || a.AlertUnit != tc.alertUnit || a.Allowed == (a.Reason != "") {
				t.Errorf("policy %q %s handling %s: %+v", tc.policy, tc.dock, tc.serial, a)
			}
		}
	})
}
