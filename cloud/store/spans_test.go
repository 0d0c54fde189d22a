package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// The reads before migration 0015 (unbounded: the whole history before
// hi): the oracle the bounded reads must agree with, row for row.
const (
	unboundedSegmentsSQL = `SELECT g.serial, g.seq FROM w CROSS JOIN segments g
		WHERE g.serial = w.serial AND g.corr_start_ns < w.hi AND g.corr_end_ns >= w.lo ORDER BY g.serial, g.corr_start_ns, g.seq`
	unboundedInventorySQL = `SELECT v.serial, v.seq FROM w CROSS JOIN inventory v
		WHERE v.serial = w.serial AND v.start_ns < w.hi AND v.end_ns >= w.lo ORDER BY v.serial, v.seq`
)

// oracle runs one of the unbounded reads: "serial/seq" in its order.
func oracle(t testing.TB, s *Store, query string, spans []Span) []string {
	t.Helper()
	rows, err := spanRows(spans)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	if err := s.withRows(context.Background(), spanCols, rows, query, nil, func(rs *sql.Rows) error {
		var sn string
		var seq int64
		if err := rs.Scan(&sn, &seq); err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s/%d", sn, seq))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// bounded runs SegmentsOf and InventoryOf: "serial/seq" in their order.
func bounded(t testing.TB, s *Store, spans []Span) (segs, inv []string) {
	t.Helper()
	ctx := context.Background()
	sg, err := s.SegmentsOf(ctx, spans)
	if err != nil {
		t.Fatal(err)
	}
	iv, err := s.InventoryOf(ctx, spans)
	if err != nil {
		t.Fatal(err)
	}
	serials := make([]string, 0, len(spans))
	for _, sp := range spans {
		serials = append(serials, sp.Serial)
	}
	slices.Sort(serials)
	for _, sn := range serials {
		for _, g := range sg[sn] {
			segs = append(segs, fmt.Sprintf("%s/%d", sn, g.Seq))
		}
		for _, v := range iv[sn] {
			inv = append(inv, fmt.Sprintf("%s/%d", sn, v.Seq))
		}
	}
	return segs, inv
}

func TestSpanNS(t *testing.T) {
	for _, c := range []struct{ start, end, want int64 }{
		{0, 10, 10},
		{10, 10, 0},
		{10, 5, 0},
		{-5, 5, 10},
		{math.MinInt64, math.MaxInt64, math.MaxInt64},
		{-1, math.MaxInt64, math.MaxInt64},
		{math.MinInt64, -1, math.MaxInt64},
		{math.MinInt64, 0, math.MaxInt64},
		{math.MinInt64 + 1, 0, math.MaxInt64},
		{math.MaxInt64, math.MinInt64, 0},
	} {
		if got := spanNS(c.start, c.end); got != c.want {
			t.Errorf("spanNS(%d, %d) = %d, want %d", c.start, c.end, got, c.want)
		}
	}
}

// segmentSpan reads a recorder's stored bounds (-1: NULL; -2: no row).
func storedSpans(t testing.TB, s *Store, serial string) (seg, inv int64) {
	t.Helper()
	var a, b sql.NullInt64
	err := s.db.QueryRowContext(context.Background(), s.d.q(`SELECT segment_ns, inventory_ns FROM recorder_spans WHERE serial = ?`), serial).Scan(&a, &b)
	if err == sql.ErrNoRows {
		return -2, -2
	}
	if err != nil {
		t.Fatal(err)
	}
	seg, inv = -1, -1
	if a.Valid {
		seg = a.Int64
	}
	if b.Valid {
		inv = b.Int64
	}
	return seg, inv
}

// TestHistoryReadsBounded: the bounded reads return exactly what the
// unbounded ones do: a segment that began days before the window and runs
// into it, an absurdly long one (its span overflows int64) on another
// recorder, a segment whose corrected times moved with an earlier clock
// sync (and a conflicting claim with a longer span), the inventory's long
// listing; open bounds too. The bounds are raised, never lowered.
func TestHistoryReadsBounded(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		day := 24 * time.Hour
		var msgs []Incoming
		n := 0
		add := func(dock string, at time.Time, body wire.Body) {
			n++
			msgs = append(msgs, msg(t, dock, fmt.Sprintf("m%d", n), at, body))
		}
		seg := func(serial string, seq uint64, start, end time.Time, offMs int64, synced time.Time) *wire.SegmentManifest {
			m := manifest(serial, seq, start, offMs)
			m.End, m.ClockSyncedAt = end, synced
			return m
		}
		// R1: a 5-minute segment every hour for 10 days, and seq 1000:
		// 4 days long, starting 6 days before t0.
		for i := range 240 {
			st := t0.Add(-10*day + time.Duration(i)*time.Hour)
			add("dock-1", t0, seg("R1", uint64(i+1), st, st.Add(5*time.Minute), 0, t0))
		}
		add("dock-1", t0, seg("R1", 1000, t0.Add(-6*day), t0.Add(-2*day), 0, t0))
		// R2: short ones, and one from 1680 to 2260 (span > max int64).
		for i := range 20 {
			st := t0.Add(-time.Duration(i) * time.Hour)
			add("dock-2", t0, seg("R2", uint64(i+1), st, st.Add(time.Minute), 0, t0))
		}
		absurd := seg("R2", 500, time.Date(1680, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2260, 1, 1, 0, 0, 0, 0, time.UTC), 0, t0)
		add("dock-2", t0, absurd)
		// R3: seq 1 recorded on a clock 3 days fast, synced at t0+day:
		// corrected, it runs 3 days earlier.
		add("dock-3", t0, seg("R3", 1, t0.Add(-day), t0.Add(-day+10*time.Minute), 3*24*3600*1000, t0.Add(day)))
		for i := range 50 {
			st := t0.Add(-time.Duration(i) * 2 * time.Hour)
			add("dock-3", t0, seg("R3", uint64(i+10), st, st.Add(10*time.Minute), 0, t0))
		}
		// R4: inventory only, one listing 5 days long.
		var es []wire.InventoryEntry
		for i := range 30 {
			st := t0.Add(-30*day + time.Duration(i)*day)
			es = append(es, wire.InventoryEntry{Seq: uint64(i + 1), Start: st, End: st.Add(time.Hour), Size: 1,
				SHA256: hash64(fmt.Sprint("R4/", i)), StopCause: wire.StopUser})
		}
		es = append(es, wire.InventoryEntry{Seq: 100, Start: t0.Add(-8 * day), End: t0.Add(-3 * day), Size: 1,
			SHA256: hash64("R4/long"), StopCause: wire.StopUser})
		add("dock-4", t0, &wire.Docking{Serial: "R4", DockedAt: t0, Phase: wire.DockingInventory, LastSeq: 100, Part: 1, Parts: 1, Segments: es})
		commit(t, s, msgs...)

		if seg, _ := storedSpans(t, s, "R1"); seg != int64(4*day) {
			t.Errorf("R1 segment bound %d, want %d", seg, int64(4*day))
		}
		if seg, _ := storedSpans(t, s, "R2"); seg != math.MaxInt64 {
			t.Errorf("R2 segment bound %d, want max int64", seg)
		}
		if seg, inv := storedSpans(t, s, "R4"); seg != -1 || inv != int64(5*day) {
			t.Errorf("R4 bounds %d, %d; want NULL, %d", seg, inv, int64(5*day))
		}

		// R3 seq 1 again from an earlier sync (offset 2 days), with a
		// conflicting claim 2 days long: the store keeps the first claim
		// but takes the earlier sync's corrected times, whose span is 2
		// days. The bound must cover it.
		commit(t, s, msg(t, "dock-3", "late", t0.Add(2*day), seg("R3", 1, t0.Add(-day), t0.Add(day), 2*24*3600*1000, t0.Add(-day))))
		var cs, ce int64
		if err := s.db.QueryRow(s.d.q(`SELECT corr_start_ns, corr_end_ns FROM segments WHERE serial = ? AND seq = 1`), "R3").Scan(&cs, &ce); err != nil {
			t.Fatal(err)
		}
		if seg, _ := storedSpans(t, s, "R3"); seg < ce-cs {
			t.Errorf("R3 bound %d below its stored corrected span %d", seg, ce-cs)
		}

		// Windows: each recorder alone and all at once, with open bounds.
		var windows [][]Span
		for _, sn := range []string{"R1", "R2", "R3", "R4", "R5"} {
			for _, w := range [][2]time.Time{
				{t0.Add(-3 * day), t0.Add(-3*day + time.Hour)}, // inside R1's long one, R4's long listing
				{t0.Add(-day), t0},
				{t0.Add(-5 * day), t0.Add(-4 * day)},
				{t0.Add(-2*day - time.Minute), t0.Add(-2*day + time.Minute)}, // R1's long one's end
				{t0.Add(-2*day - time.Hour), t0.Add(-2 * day)},               // R3 seq 1, corrected
				{time.Time{}, t0.Add(-9 * day)},
				{t0.Add(-day), time.Time{}},
				{time.Time{}, time.Time{}},
				{time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1700, 1, 2, 0, 0, 0, 0, time.UTC)},
				{time.Date(2261, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}},
			} {
				windows = append(windows, []Span{{sn, w[0], w[1]}})
			}
		}
		windows = append(windows, []Span{{"R1", t0.Add(-3 * day), t0}, {"R2", t0.Add(-day), t0}, {"R3", t0.Add(-5 * day), t0},
			{"R4", t0.Add(-4 * day), t0}})
		for _, sp := range windows {
			wantSeg, wantInv := oracle(t, s, unboundedSegmentsSQL, sp), oracle(t, s, unboundedInventorySQL, sp)
			gotSeg, gotInv := bounded(t, s, sp)
			if !slices.Equal(gotSeg, wantSeg) {
				t.Errorf("segments %+v:\n got %v\nwant %v", sp, gotSeg, wantSeg)
			}
			if !slices.Equal(gotInv, wantInv) {
				t.Errorf("inventory %+v:\n got %v\nwant %v", sp, gotInv, wantInv)
			}
		}
		// The cases the windows were made for hold (not just agreement).
		must := func(sp Span, what string, want string) {
			t.Helper()
			segs, inv := bounded(t, s, []Span{sp})
			if !slices.Contains(append(segs, inv...), want) {
				t.Errorf("%s: %s not read for %+v (segments %v, inventory %v)", what, want, sp, segs, inv)
			}
		}
		must(Span{"R1", t0.Add(-3 * day), t0.Add(-3*day + time.Hour)}, "began 3 days before the window", "R1/1000")
		must(Span{"R2", t0.Add(-day), t0}, "absurd span", "R2/500")
		must(Span{"R2", time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1700, 1, 2, 0, 0, 0, 0, time.UTC)}, "absurd span, 1700", "R2/500")
		must(Span{"R3", t0.Add(-2*day - time.Hour), t0.Add(-2 * day)}, "clock-corrected", "R3/1")
		must(Span{"R4", t0.Add(-4 * day), t0.Add(-4*day + time.Hour)}, "long inventory listing", "R4/100")
		// Device times are not the corrected ones: R3/1's device span is
		// a day later than its corrected one.
		if segs, _ := bounded(t, s, []Span{{"R3", t0.Add(-day + time.Minute), t0.Add(-day + 2*time.Minute)}}); slices.Contains(segs, "R3/1") {
			t.Errorf("R3/1 read by its device time")
		}

		// Bounds are raised, never lowered: a shorter segment leaves R1's.
		commit(t, s, msg(t, "dock-1", "short", t0, seg("R1", 2000, t0, t0.Add(time.Second), 0, t0)))
		if seg, _ := storedSpans(t, s, "R1"); seg != int64(4*day) {
			t.Errorf("R1 bound %d after a shorter segment, want %d", seg, int64(4*day))
		}
	})
}

// TestHistoryReadsRandom: random recorders, spans, clock offsets and
// windows; the bounded reads agree with the unbounded ones every time.
func TestHistoryReadsRandom(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		r := rand.New(rand.NewPCG(11, 2026))
		var msgs []Incoming
		for i := range 6 {
			sn := fmt.Sprintf("X%d", i)
			var es []wire.InventoryEntry
			for k := range 60 {
				st := t0.Add(-time.Duration(r.Int64N(int64(60 * 24 * time.Hour))))
				span := time.Duration(r.Int64N(int64(time.Hour)))
				if r.IntN(20) == 0 {
					span = time.Duration(r.Int64N(int64(20 * 24 * time.Hour)))
				}
				m := manifest(sn, uint64(k+1), st, r.Int64N(2*24*3600*1000)-24*3600*1000)
				m.End = st.Add(span)
				msgs = append(msgs, msg(t, "dock-r", fmt.Sprintf("%s-%d", sn, k), t0, m))
				es = append(es, wire.InventoryEntry{Seq: uint64(k + 1), Start: st, End: st.Add(span), Size: 1, SHA256: m.SHA256, StopCause: wire.StopUser})
			}
			msgs = append(msgs, msg(t, "dock-r", sn+"-inv", t0, &wire.Docking{Serial: sn, DockedAt: t0, Phase: wire.DockingInventory,
				LastSeq: 60, Part: 1, Parts: 1, Segments: es}))
		}
		commit(t, s, msgs...)
		for range 60 {
			var spans []Span
			for i := range 6 {
				if r.IntN(2) == 0 {
					continue
				}
				from := t0.Add(-time.Duration(r.Int64N(int64(62 * 24 * time.Hour))))
				sp := Span{fmt.Sprintf("X%d", i), from, from.Add(time.Duration(r.Int64N(int64(3 * 24 * time.Hour))))}
				if r.IntN(10) == 0 {
					sp.From = time.Time{}
				}
				spans = append(spans, sp)
			}
			if len(spans) == 0 {
				continue
			}
			wantSeg, wantInv := oracle(t, s, unboundedSegmentsSQL, spans), oracle(t, s, unboundedInventorySQL, spans)
			gotSeg, gotInv := bounded(t, s, spans)
			if !slices.Equal(gotSeg, wantSeg) || !slices.Equal(gotInv, wantInv) {
				t.Fatalf("%+v:\nsegments  got %v\n         want %v\ninventory got %v\n         want %v", spans, gotSeg, wantSeg, gotInv, wantInv)
			}
		}
	})
}

// TestSpanBackfill: migration 0015's backfill gives each recorder with
// stored rows the bound of its longest span, extreme times included.
func TestSpanBackfill(t *testing.T) {
	both(t, func(t *testing.T, b *backend) {
		s := b.open(t)
		ctx := context.Background()
		mk := func(serial string, seq uint64, start, end time.Time) *wire.SegmentManifest {
			m := manifest(serial, seq, start, 0)
			m.End = end
			return m
		}
		commit(t, s,
			msg(t, "d", "1", t0, mk("B1", 1, t0, t0.Add(time.Hour))),
			msg(t, "d", "2", t0, mk("B1", 2, t0, t0.Add(3*time.Hour))),
			msg(t, "d", "3", t0, mk("B2", 1, time.Unix(0, math.MinInt64).UTC(), time.Unix(0, math.MaxInt64).UTC())),
			msg(t, "d", "4", t0, &wire.Docking{Serial: "B3", DockedAt: t0, Phase: wire.DockingInventory, LastSeq: 1, Part: 1, Parts: 1,
				Segments: []wire.InventoryEntry{{Seq: 1, Start: t0, End: t0.Add(7 * time.Minute), Size: 1, SHA256: hash64("b3"), StopCause: wire.StopUser}}}))
		want := map[string][2]int64{}
		for _, sn := range []string{"B1", "B2", "B3"} {
			seg, inv := storedSpans(t, s, sn)
			want[sn] = [2]int64{seg, inv}
		}
		if want["B1"] != [2]int64{int64(3 * time.Hour), -1} || want["B2"] != [2]int64{math.MaxInt64, -1} || want["B3"] != [2]int64{-1, int64(7 * time.Minute)} {
			t.Fatalf("commit bounds %v", want)
		}
		src, err := migrationFS.ReadFile("migrations/0015_recorder_spans.sql")
		if err != nil {
			t.Fatal(err)
		}
		var backfill string
		for _, st := range statements(string(src)) {
			if strings.HasPrefix(st, "INSERT INTO recorder_spans") {
				backfill = st
			}
		}
		if backfill == "" {
			t.Fatal("no backfill in migration 0015")
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM recorder_spans`); err != nil {
			t.Fatal(err)
		}
		// Without bounds rows the reads take the whole range: still exact.
		if segs, _ := bounded(t, s, []Span{{"B1", t0.Add(2 * time.Hour), t0.Add(4 * time.Hour)}}); !slices.Equal(segs, []string{"B1/2"}) {
			t.Errorf("without a bounds row: %v, want [B1/2]", segs)
		}
		if _, err := s.db.ExecContext(ctx, backfill); err != nil {
			t.Fatalf("backfill: %v", err)
		}
		for sn, w := range want {
			if seg, inv := storedSpans(t, s, sn); [2]int64{seg, inv} != w {
				t.Errorf("%s backfilled %d, %d; commit gave %v", sn, seg, inv, w)
			}
		}
	})
}
