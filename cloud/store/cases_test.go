package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCaseIndex(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := b.open(t)
		if err := s.EnrollUnit(ctx, Unit{ID: "unit-7"}, "test"); err != nil {
			t.Fatal(err)
		}
		if err := s.EnrollDock(ctx, "dock-1", "unit-7", "dock-1-token-0123456789"); err != nil {
			t.Fatal(err)
		}
		if err := s.EnrollUnit(ctx, Unit{ID: "unit-9"}, "test"); err != nil {
			t.Fatal(err)
		}
		if err := s.EnrollDock(ctx, "dock-2", "unit-9", "dock-2-token-0123456789"); err != nil {
			t.Fatal(err)
		}
		if err := s.EnrollRecorder(ctx, Recorder{Serial: "R1", Unit: "unit-7", PublicKey: testKey(1)}, "test"); err != nil {
			t.Fatal(err)
		}
		m1, m2, m3 := manifest("R1", 1, t0, 0), manifest("R1", 2, t0.Add(time.Hour), 0), manifest("R2", 1, t0.Add(2*time.Hour), 0)
		m2.CaseTag, m3.CaseTag, m3.Officer = "", "case-9", "o-2002"
		commit(t, s, msg(t, "dock-1", "a", t0, m1), msg(t, "dock-1", "b", t0, m2), msg(t, "dock-2", "c", t0, m3))

		sup := Actor{Name: "chief-wang", Role: "supervisor"}
		for _, tc := range []struct {
			name string
			l    CaseLink
			want error
		}{
			{"auxiliary may not", CaseLink{Serial: "R1", Seq: 2, Case: "case-1", By: Actor{Name: "zhao", Role: "auxiliary"}, Reason: "x"}, ErrNotPermitted},
			{"no reason", CaseLink{Serial: "R1", Seq: 2, Case: "case-1", By: sup}, ErrArgument},
			{"unknown segment", CaseLink{Serial: "R1", Seq: 99, Case: "case-1", By: sup, Reason: "x"}, ErrNotFound},
			{"link", CaseLink{Serial: "R1", Seq: 2, Case: "case-1", Party: "Zhang San", By: sup, Reason: "same stop, second clip"}, nil},
			{"second case", CaseLink{Serial: "R2", Seq: 1, Case: "case-1", By: Actor{Name: "o-2002", Role: "officer"}, Reason: "complaint about case-1"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.LinkCase(ctx, tc.l); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
					t.Fatalf("LinkCase: %v, want %v", err, tc.want)
				}
			})
		}
		for _, tc := range []struct {
			name string
			q    CaseQuery
			want string
		}{
			{"by case (tag or link)", CaseQuery{Case: "case-1"}, "R1/1 R1/2 R2/1"},
			{"by case tag only", CaseQuery{Case: "case-9"}, "R2/1"},
			{"by party", CaseQuery{Party: "Zhang San"}, "R1/2"},
			{"by officer", CaseQuery{Officer: "o-2002"}, "R2/1"},
			{"by unit", CaseQuery{Unit: "unit-7"}, "R1/1 R1/2"},
			{"by the reporting dock's unit (recorder not enrolled)", CaseQuery{Unit: "unit-9"}, "R2/1"},
			{"by recorder", CaseQuery{Recorder: "R2"}, "R2/1"},
			{"within a scope", CaseQuery{Case: "case-1", Units: []string{"unit-9", "unit-x"}}, "R2/1"},
			{"empty scope", CaseQuery{Units: []string{}}, ""},
			{"after a cursor", CaseQuery{Case: "case-1", After: &CaseCursor{Start: t0, Serial: "R1", Seq: 1}}, "R1/2 R2/1"},
			{"by time", CaseQuery{From: t0.Add(30 * time.Minute), To: t0.Add(90 * time.Minute)}, "R1/2"},
			{"combined", CaseQuery{Case: "case-1", Officer: "o-1001"}, "R1/1 R1/2"},
			{"nothing", CaseQuery{Case: "case-404"}, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hs, err := s.FindFootage(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, h := range hs {
					got = append(got, h.Serial+"/"+itoa(h.Seq))
				}
				if strings.Join(got, " ") != tc.want {
					t.Fatalf("found %v, want %s", got, tc.want)
				}
			})
		}
		// Keyset pages, a hit at a time, through the cursor's text form.
		var paged []string
		q := CaseQuery{Case: "case-1", Limit: 1}
		for range 5 {
			hs, err := s.FindFootage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(hs) == 0 {
				break
			}
			paged = append(paged, hs[0].Serial+"/"+itoa(hs[0].Seq))
			c, err := ParseCaseCursor(hs[0].Cursor().String())
			if err != nil || c != hs[0].Cursor() {
				t.Fatalf("cursor %q reads back as %+v, %v", hs[0].Cursor(), c, err)
			}
			q.After = &c
		}
		if strings.Join(paged, " ") != "R1/1 R1/2 R2/1" {
			t.Fatalf("pages %v", paged)
		}
		for _, bad := range []string{"", "1.2", "x.1.R1", "1.x.R1", "1.2."} {
			if _, err := ParseCaseCursor(bad); !errors.Is(err, ErrArgument) {
				t.Fatalf("cursor %q: %v", bad, err)
			}
		}
		hs, err := s.FindFootage(ctx, CaseQuery{Party: "Zhang San"})
		if err != nil || len(hs) != 1 || hs[0].CaseTag != "" || len(hs[0].Links) != 1 || hs[0].Links[0].By != sup || hs[0].Unit != "unit-7" {
			t.Fatalf("hit %+v %v: the link is recorded beside the segment, which keeps its reported tag", hs, err)
		}
	})
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}
