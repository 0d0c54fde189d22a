package store

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// The history reads (SegmentsOf, InventoryOf) select the rows of a
// recorder overlapping a window [lo, hi): start < hi AND end >= lo. The
// index (serial, start) serves only start < hi: every row of the
// recorder's history before hi. recorder_spans (migration 0015) keeps per
// recorder an upper bound of its longest span (end - start), so a row that
// ends at or after lo starts at or after lo - bound, and the reads ask for
// the index range [lo - bound, hi): exact, and bounded by the window plus
// the recorder's longest recording, however long its history. A recorder
// with one absurdly long segment makes only its own reads longer.
//
// The bound is raised in the transaction that commits the rows (the spans
// step of Commit), with max, never lowered: a deleted segment leaves it as
// it was (a safe bound). A segment's corrected span is its claimed span
// (both ends shift by the same clock offset); the bound is taken over
// every value the upsert proposes, so whichever is stored is within it.

// spanNS is end - start clamped to [0, math.MaxInt64]: an end before its
// start counts 0, and a span that overflows int64 is the largest.
func spanNS(start, end int64) int64 {
	if end <= start {
		return 0
	}
	if d := end - start; d > 0 {
		return d
	}
	return math.MaxInt64 // end - start overflowed
}

// spanFloor renders the SQL of the least start a row of span column span
// can have and still end at or after lo: lo - span, saturating at the
// least BIGINT, with no subtraction that overflows on either engine (a
// PostgreSQL overflow is an error, a SQLite one a float). A NULL span
// (nothing of the kind recorded, or a recorder without a bounds row) and
// a saturated one (a span spanNS clamped: longer than any BIGINT) give the
// least BIGINT: the whole range, still exact.
func spanFloor(lo, span string) string {
	return fmt.Sprintf(`CASE WHEN %[2]s IS NULL OR %[2]s = 9223372036854775807 THEN %[3]s WHEN %[1]s >= 0 THEN %[1]s - %[2]s
		WHEN %[2]s <= %[1]s + 9223372036854775807 THEN %[1]s - %[2]s ELSE %[3]s END`, lo, span, minBigint)
}

// minBigint is the least BIGINT as an expression both engines type as
// BIGINT (PostgreSQL reads the literal -9223372036854775808 as a NUMERIC,
// which no BIGINT index serves).
const minBigint = `(-9223372036854775807 - 1)`

// spanMax is the batch's longest span of a recorder, by kind (nil: none).
type spanMax struct{ seg, inv *int64 }

// raiseSpan notes a span the batch writes for serial: segment (true) or
// inventory (false) rows.
func (w *writer) raiseSpan(serial string, segment bool, start, end int64) {
	if w.spans == nil {
		w.spans = map[string]*spanMax{}
	}
	m := w.spans[serial]
	if m == nil {
		m = &spanMax{}
		w.spans[serial] = m
	}
	p := &m.inv
	if segment {
		p = &m.seg
	}
	if d := spanNS(start, end); *p == nil || d > **p {
		*p = &d
	}
}

// spanBounds raises the recorders' bounds to the batch's spans, in serial
// order (as every step takes its locks); a bound already as long is left
// alone (no new row version).
func (w *writer) spanBounds(ctx context.Context) error {
	serials := make([]string, 0, len(w.spans))
	for sn := range w.spans {
		serials = append(serials, sn)
	}
	slices.Sort(serials)
	rows := make([][]any, len(serials))
	for i, sn := range serials {
		m := w.spans[sn]
		var seg, inv any
		if m.seg != nil {
			seg = *m.seg
		}
		if m.inv != nil {
			inv = *m.inv
		}
		rows[i] = []any{sn, seg, inv}
	}
	return w.s.multi(ctx, w.tx, "recorder_spans", `serial TEXT, segment_ns BIGINT, inventory_ns BIGINT`,
		`ON CONFLICT (serial) DO UPDATE SET
			segment_ns = CASE WHEN excluded.segment_ns > COALESCE(recorder_spans.segment_ns, -1)
				THEN excluded.segment_ns ELSE recorder_spans.segment_ns END,
			inventory_ns = CASE WHEN excluded.inventory_ns > COALESCE(recorder_spans.inventory_ns, -1)
				THEN excluded.inventory_ns ELSE recorder_spans.inventory_ns END
		WHERE excluded.segment_ns > COALESCE(recorder_spans.segment_ns, -1)
			OR excluded.inventory_ns > COALESCE(recorder_spans.inventory_ns, -1)`, rows, nil)
}
