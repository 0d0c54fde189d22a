package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The history reads as they were before migration 0015, column for column:
// the "before" of BenchmarkHistoryReads.
const (
	before0015SegmentsSQL = `SELECT g.serial, g.seq, g.dock, g.start_ns, g.end_ns, g.clock_offset_ms,
		g.clock_synced_ns, g.corr_start_ns, g.corr_end_ns, g.size, g.sha256, g.computed, g.hash_mismatch, g.stop_cause,
		g.officer, g.case_tag, g.media, g.state, g.fault, g.follows_interruption,
		r.object_id, r.sha256, r.size, r.stored_ns, r.key_id, r.signature,
		g.conflict_claim, g.first_seen_ns, g.reported_ns, g.updated_ns, g.time_source
		FROM w CROSS JOIN segments g LEFT JOIN receipts r ON r.device = g.serial AND r.seq = g.seq
		WHERE g.serial = w.serial AND g.corr_start_ns < w.hi AND g.corr_end_ns >= w.lo
		ORDER BY g.serial, g.corr_start_ns, g.seq`
	before0015InventorySQL = `SELECT v.serial, v.seq, v.docked_ns, v.start_ns, v.end_ns, v.size, v.sha256,
		v.stop_cause, v.received_ns FROM w CROSS JOIN inventory v
		WHERE v.serial = w.serial AND v.start_ns < w.hi AND v.end_ns >= w.lo ORDER BY v.serial, v.seq`
)

// BenchmarkHistoryReads measures the history reads of a steady analysis
// pass (a batch of recorders read at now, as analysis.readBatch reads
// them: segments over [now - lookback, now + 1 h), inventory a day wider
// each side, health snapshots from a lookback earlier, dockings, late
// arrivals) on two recorder sets of BERTH_BENCH_HISTORY_RECORDERS
// recorders (default 50) each recording 24 segments of 20 min a day: one
// with 1 day of history, one with BERTH_BENCH_HISTORY_DAYS (default 365),
// and the latter again with one recorder that also has a segment 300 days
// long (only its own reads may walk further).
// The lookback is BERTH_BENCH_HISTORY_LOOKBACK (default 24 h: the last
// day). The segment and inventory reads run twice: "before" is the
// unbounded statement of migration 0014 (the index range [-inf, hi)),
// "after" the store's (SegmentsOf, InventoryOf: [lo - longest span, hi)).
//
// Figures beside the time: index-rows/op, the index entries in the range
// the read walks (counted), and on PostgreSQL pg-rows/op (rows the plan's
// scans of the table produced or filtered out) and pg-blocks/op (shared
// buffers hit or read), from EXPLAIN (ANALYZE, BUFFERS) of the very
// statement. The plans are logged (-v).
//
//	go test -run '^$' -bench HistoryReads -benchtime 20x ./cloud/store
func BenchmarkHistoryReads(b *testing.B) {
	recorders, days := benchEnvInt("BERTH_BENCH_HISTORY_RECORDERS", 50), benchEnvInt("BERTH_BENCH_HISTORY_DAYS", 365)
	lookback := 24 * time.Hour
	if v := os.Getenv("BERTH_BENCH_HISTORY_LOOKBACK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		lookback = d
	}
	for _, mk := range []func(testing.TB) *backend{newSQLite, newPG} {
		be := mk(b)
		s := be.open(b)
		ctx := context.Background()
		now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
		sets := []struct {
			name   string
			prefix string
			days   int
		}{{"1d", "A", 1}, {fmt.Sprintf("%dd", days), "Y", days}, {fmt.Sprintf("%dd+absurd", days), "Z", days}}
		for _, set := range sets {
			t := time.Now()
			if err := seedHistory(ctx, s, set.prefix, recorders, set.days, now); err != nil {
				b.Fatalf("%s: seed %s: %v", be.name, set.name, err)
			}
			b.Logf("%s: seeded %d recorders × %d days in %s", be.name, recorders, set.days, time.Since(t).Round(time.Millisecond))
		}
		// Z1000 also has one segment (and listing) 300 days long, ending
		// in the window: its own reads walk 300 days, the others' not.
		long := []any{"Z1000", now.Add(-300 * 24 * time.Hour).UnixNano(), now.Add(-12 * time.Hour).UnixNano()}
		for _, q := range []string{`INSERT INTO segments (serial, seq, dock, msg_id, start_ns, end_ns, clock_offset_ms, corr_start_ns,
			corr_end_ns, size, sha256, stop_cause, state, claim, first_seen_ns, reported_ns, updated_ns)
			VALUES (?, 999999, 'D1', 'm', ?, ?, 0, ?, ?, 1, 'h', 'auto-split', 'uploaded', 'c', 0, 0, 0)`,
			`INSERT INTO inventory (serial, seq, docked_ns, start_ns, end_ns, size, sha256, stop_cause, received_ns)
			VALUES (?, 999999, 0, ?, ?, 1, 'h', 'auto-split', 0)`} {
			args := append(long, long[1:]...)
			if strings.Contains(q, "inventory") {
				args = long
			}
			if _, err := s.db.ExecContext(ctx, s.d.q(q), args...); err != nil {
				b.Fatal(err)
			}
		}
		if err := backfillSpans(ctx, s); err != nil {
			b.Fatal(err)
		}
		b.Run(be.name, func(b *testing.B) {
			for _, set := range sets {
				b.Run(set.name, func(b *testing.B) { benchHistorySet(b, s, set.prefix, recorders, now, lookback) })
			}
		})
	}
}

func benchHistorySet(b *testing.B, s *Store, prefix string, recorders int, now time.Time, lookback time.Duration) {
	ctx := context.Background()
	var serials []string
	var segs, around, past []Span
	from := now.Add(-lookback)
	for i := range recorders {
		sn := fmt.Sprintf("%s%d", prefix, 1000+i)
		serials = append(serials, sn)
		segs = append(segs, Span{sn, from, now.Add(time.Hour)})
		around = append(around, Span{sn, from.Add(-24 * time.Hour), now.Add(24 * time.Hour)})
		past = append(past, Span{sn, from.Add(-lookback), now.Add(time.Hour)})
	}
	lo, hi := prefix, prefix+"~"
	segLo, segHi := from.UnixNano(), now.Add(time.Hour).UnixNano()
	invLo, invHi := from.Add(-24*time.Hour).UnixNano(), now.Add(24*time.Hour).UnixNano()
	count := func(b *testing.B, q string, args ...any) float64 {
		var n int64
		if err := s.db.QueryRowContext(ctx, s.d.q(q), args...).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return float64(n)
	}
	type read struct {
		name  string
		run   func() error
		table string
		sql   string // for EXPLAIN: a withRows statement over spans
		spans []Span
		rows  float64 // index entries in the walked range; -1: not counted
	}
	raw := func(query string, spans []Span) func() error {
		return func() error {
			rows, err := spanRows(spans)
			if err != nil {
				return err
			}
			return s.withRows(ctx, spanCols, rows, query, nil, func(rs *sql.Rows) error {
				cols, err := rs.Columns()
				if err != nil {
					return err
				}
				vals := make([]any, len(cols))
				for i := range vals {
					vals[i] = new(any)
				}
				return rs.Scan(vals...)
			})
		}
	}
	reads := []read{
		{name: "segments/before", run: raw(before0015SegmentsSQL, segs), table: "segments", sql: before0015SegmentsSQL, spans: segs,
			rows: count(b, `SELECT count(*) FROM segments WHERE serial >= ? AND serial < ? AND corr_start_ns < ?`, lo, hi, segHi)},
		{name: "segments/after", run: func() error { _, err := s.SegmentsOf(ctx, segs); return err }, table: "segments", sql: s.d.segmentsOfSQL(), spans: segs,
			rows: count(b, `SELECT count(*) FROM segments g JOIN recorder_spans p ON p.serial = g.serial
				WHERE g.serial >= ? AND g.serial < ? AND g.corr_start_ns >= ? - p.segment_ns AND g.corr_start_ns < ?`, lo, hi, segLo, segHi)},
		{name: "inventory/before", run: raw(before0015InventorySQL, around), table: "inventory", sql: before0015InventorySQL, spans: around,
			rows: count(b, `SELECT count(*) FROM inventory WHERE serial >= ? AND serial < ? AND start_ns < ?`, lo, hi, invHi)},
		{name: "inventory/after", run: func() error { _, err := s.InventoryOf(ctx, around); return err }, table: "inventory", sql: s.d.inventoryOfSQL(), spans: around,
			rows: count(b, `SELECT count(*) FROM inventory v JOIN recorder_spans p ON p.serial = v.serial
				WHERE v.serial >= ? AND v.serial < ? AND v.start_ns >= ? - p.inventory_ns AND v.start_ns < ?`, lo, hi, invLo, invHi)},
		{name: "dockings", run: func() error { _, err := s.DockingsOf(ctx, serials); return err }, rows: -1},
		{name: "health", run: func() error { _, err := s.DeviceHealthOf(ctx, past); return err }, rows: -1},
		{name: "late-arrivals", run: func() error { _, err := s.LateArrivalsOf(ctx, serials, from, from); return err }, rows: -1},
	}
	for _, r := range reads {
		b.Run(r.name, func(b *testing.B) {
			var pgRows, pgBlocks float64
			if r.sql != "" {
				plan, rows, blocks, err := explain(ctx, s, r.sql, r.spans, r.table)
				if err != nil {
					b.Fatal(err)
				}
				b.Logf("plan:\n%s", plan)
				pgRows, pgBlocks = rows, blocks
			}
			b.ResetTimer()
			for range b.N {
				if err := r.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if r.rows >= 0 {
				b.ReportMetric(r.rows, "index-rows/op")
			}
			if s.d.dollar && r.sql != "" {
				b.ReportMetric(pgRows, "pg-rows/op")
				b.ReportMetric(pgBlocks, "pg-blocks/op")
			}
		})
	}
}

// explain returns the plan of withRows' statement for query over spans
// and, on PostgreSQL (EXPLAIN ANALYZE, BUFFERS), the rows its scans of
// table produced or filtered out and the shared blocks it touched.
func explain(ctx context.Context, s *Store, query string, spans []Span, table string) (string, float64, float64, error) {
	q, err := s.withRowsSQL(spanCols, query)
	if err != nil {
		return "", 0, 0, err
	}
	rows, err := spanRows(spans)
	if err != nil {
		return "", 0, 0, err
	}
	js, err := json.Marshal(rows)
	if err != nil {
		return "", 0, 0, err
	}
	if !s.d.dollar {
		rs, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, string(js))
		if err != nil {
			return "", 0, 0, err
		}
		defer rs.Close()
		var b strings.Builder
		for rs.Next() {
			var id, parent, notused int
			var detail string
			if err := rs.Scan(&id, &parent, &notused, &detail); err != nil {
				return "", 0, 0, err
			}
			fmt.Fprintf(&b, "  %s\n", detail)
		}
		return b.String(), 0, 0, rs.Err()
	}
	var out string
	if err := s.db.QueryRowContext(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+q, string(js)).Scan(&out); err != nil {
		return "", 0, 0, err
	}
	var doc []struct{ Plan map[string]any }
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc) == 0 {
		return "", 0, 0, fmt.Errorf("explain json: %v", err)
	}
	var b strings.Builder
	var tableRows float64
	var walk func(n map[string]any, depth int)
	num := func(n map[string]any, k string) float64 { f, _ := n[k].(float64); return f }
	walk = func(n map[string]any, depth int) {
		rel, _ := n["Relation Name"].(string)
		idx, _ := n["Index Name"].(string)
		cond, _ := n["Index Cond"].(string)
		loops := num(n, "Actual Loops")
		fmt.Fprintf(&b, "  %s%v %s %s %s rows=%.0f loops=%.0f removed=%.0f\n", strings.Repeat("  ", depth), n["Node Type"], rel, idx, cond,
			num(n, "Actual Rows"), loops, num(n, "Rows Removed by Filter"))
		if rel == table {
			tableRows += (num(n, "Actual Rows") + num(n, "Rows Removed by Filter") + num(n, "Rows Removed by Index Recheck")) * loops
		}
		if kids, ok := n["Plans"].([]any); ok {
			for _, k := range kids {
				if m, ok := k.(map[string]any); ok {
					walk(m, depth+1)
				}
			}
		}
	}
	top := doc[0].Plan
	walk(top, 0)
	return b.String(), tableRows, num(top, "Shared Hit Blocks") + num(top, "Shared Read Blocks"), nil
}

// seedHistory writes, with SQL, recorders prefix1000... each with days of
// history ending at the day before now: per day 24 segments of 20 min from
// 08:00 (a shift), each inventoried and received an hour after its end,
// one health snapshot and one docking (inventory and complete) at 17:00.
func seedHistory(ctx context.Context, s *Store, prefix string, recorders, days int, now time.Time) error {
	const day, seg = int64(24 * time.Hour), int64(20 * time.Minute)
	base := now.UnixNano() - int64(days)*day
	gen := `WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < ?),
		k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < ?) `
	start := fmt.Sprintf(`(%d + (k.j / 24) * %d + %d + (k.j %% 24) * %d)`, base, day, int64(8*time.Hour), seg)
	dock := fmt.Sprintf(`(%d + k.j * %d + %d)`, base, day, int64(17*time.Hour))
	serial := `? || CAST(1000 + r.i AS TEXT)`
	for _, q := range []struct {
		sql string
		n   int
	}{
		{gen + `INSERT INTO segments (serial, seq, dock, msg_id, start_ns, end_ns, clock_offset_ms, corr_start_ns, corr_end_ns,
			size, sha256, stop_cause, state, claim, first_seen_ns, reported_ns, updated_ns)
			SELECT ` + serial + `, k.j + 1, 'D1', 'm', ` + start + `, ` + start + ` + ` + strconv.FormatInt(seg, 10) + `, 0, ` +
			start + `, ` + start + ` + ` + strconv.FormatInt(seg, 10) + `, 1000, 'h', 'auto-split', 'uploaded', 'c', ` +
			start + ` + 4200000000000, ` + start + ` + 4200000000000, ` + start + ` + 4200000000000 FROM r, k`, days * 24},
		{gen + `INSERT INTO inventory (serial, seq, docked_ns, start_ns, end_ns, size, sha256, stop_cause, received_ns)
			SELECT ` + serial + `, k.j + 1, ` + start + ` + 4200000000000, ` + start + `, ` + start + ` + ` + strconv.FormatInt(seg, 10) +
			`, 1000, 'h', 'auto-split', ` + start + ` + 4200000000000 FROM r, k`, days * 24},
		{gen + `INSERT INTO device_health (serial, docked_ns, dock, slot, msg_id, battery_mv, battery_pct, battery_health_pct,
			battery_cycles, battery_temp_c, storage_total, storage_free, storage_health_pct, storage_errors, bad_blocks, dock_clock_ns,
			clock_offset_ms, clock_set, body)
			SELECT ` + serial + `, ` + dock + `, 'D1', 1, 'h', 4000, 90, 90, 100, 30, 1, 1, 95, 0, 0, ` + dock + `, 0, true, '{}' FROM r, k`, days},
		{gen + `INSERT INTO dockings (serial, docked_ns, phase, part, parts, dock, last_seq, recording, copied, received_ns)
			SELECT ` + serial + `, ` + dock + `, p.phase, 1, 1, 'D1', (k.j + 1) * 24, false, 24, ` + dock + `
			FROM r, k, (SELECT 'inventory' AS phase UNION ALL SELECT 'complete') AS p`, days},
	} {
		if _, err := s.db.ExecContext(ctx, s.d.q(q.sql), recorders-1, q.n-1, prefix); err != nil {
			return fmt.Errorf("%.60s: %w", q.sql, err)
		}
	}
	if s.d.dollar {
		_, err := s.db.ExecContext(ctx, `ANALYZE`)
		return err
	}
	_, err := s.db.ExecContext(ctx, `ANALYZE`)
	return err
}

// backfillSpans rebuilds recorder_spans with migration 0015's backfill.
func backfillSpans(ctx context.Context, s *Store) error {
	src, err := migrationFS.ReadFile("migrations/0015_recorder_spans.sql")
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM recorder_spans`); err != nil {
		return err
	}
	for _, st := range statements(string(src)) {
		if strings.HasPrefix(st, "INSERT INTO recorder_spans") {
			_, err := s.db.ExecContext(ctx, st)
			return err
		}
	}
	return fmt.Errorf("no backfill in migration 0015")
}

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
