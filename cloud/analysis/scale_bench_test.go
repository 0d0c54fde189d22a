package analysis

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/store/pgtest"
	"github.com/berthdock/berth/cloud/wire"
)

// BenchmarkAnalysisDesignScale measures the incremental analysis on
// PostgreSQL at the design's scale: a day of BERTH_BENCH_RECORDERS
// recorders (default 100,000) × BERTH_BENCH_SEGMENTS segments (default 20:
// 2M), in three shifts, each shift's recorders docking at its change (the
// peaks) with what a dock reports of a docking (health snapshot, inventory,
// docking complete, the segments with their receipts), 1 % of them with a
// hole. It reports:
//
//   - day-s: two analysers digesting the whole day (every recorder due
//     once), splitting it; dup-alerts must be 0;
//   - steady-pass-s: one pass after 1 % of the recorders docked again with
//     20 new segments each (commit-s: committing them through Commit);
//   - quiet-pass-ms: a pass with nothing new;
//   - latency-p50-s, latency-p99-s: commit → delivery of a hole alert for
//     a shift-change peak fed over BERTH_BENCH_FEED (default 60 s) to two
//     analysers running every BERTH_BENCH_EVERY (default 1 min, the
//     collector's default).
//
// Beside each time, figures that do not depend on how busy the machine is:
// the store calls the engines made (day-store-calls, steady-store-calls)
// and the CPU time spent by this process (-go-cpu-s) and, when PostgreSQL
// runs on this machine, by the backends serving the engines (-pg-cpu-s,
// from /proc; a backend that exits mid-phase is not counted).
//
// The day is seeded with SQL (generate_series) into its own schema, kept
// between runs (the size is in its name); each run resets the judgement
// (analysis work and alerts), not the footage. It skips without PostgreSQL
// (BERTH_PG_DSN, default the local test database) unless BERTH_REQUIRE_PG.
//
//	BERTH_BENCH_RECORDERS=100000 go test -run '^$' -bench AnalysisDesignScale -benchtime 1x -timeout 2h ./cloud/analysis
func BenchmarkAnalysisDesignScale(b *testing.B) {
	recorders, perRec := envInt("BERTH_BENCH_RECORDERS", 100_000), envInt("BERTH_BENCH_SEGMENTS", 20)
	feed, every := envDur("BERTH_BENCH_FEED", time.Minute), envDur("BERTH_BENCH_EVERY", time.Minute)
	dsn := pgtest.DSN()
	raw, err := sql.Open("pgx", dsn)
	if err == nil {
		err = raw.Ping()
	}
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_PG") != "" {
			b.Fatalf("PostgreSQL required (BERTH_REQUIRE_PG): %v", err)
		}
		b.Skipf("PostgreSQL unreachable: %v", err)
	}
	defer raw.Close()
	ctx := context.Background()
	schema := fmt.Sprintf("bench_analysis_scale2_%dx%d", recorders, perRec)
	if _, err := raw.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	// Migrate with a plain store first: the seed needs the tables.
	st0, err := store.Open(ctx, dsn, &store.Opts{Logger: log, Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	st0.Close()
	seedNow, err := seedDay(ctx, b, raw, schema, recorders, perRec)
	if err != nil {
		b.Fatal(err)
	}
	// The day ends at seedNow whenever the benchmark runs.
	clock := offsetClock{clockwork.NewRealClock(), seedNow.Sub(time.Now())}
	// The engines' connections are named, so their backends' CPU time
	// can be read.
	const app = "berth-bench-analysis"
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	open := func() *store.Store {
		st, err := store.Open(ctx, dsn+sep+"application_name="+app, &store.Opts{Logger: log, Schema: schema, Clock: clock, MaxConns: 8})
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	sa, sb := open(), open()
	defer sa.Close()
	defer sb.Close()
	d := &timedDeliveries{at: map[string]time.Time{}, n: map[string]int{}}
	cfg := func(owner string) Config {
		return Config{Clock: clock, Owner: owner, Escalate: -1, OfflineAfter: 48 * time.Hour, Every: every, Workers: 4, Batch: 200}
	}
	ta, tb := &tStore{Store: sa}, &tStore{Store: sb}
	ea := New(cfg("bench-a"), ta, nil, nil, []Deliverer{d}, log)
	eb := New(cfg("bench-b"), tb, nil, nil, []Deliverer{d}, log)
	// use reports a phase's load-independent figures since start.
	type usage struct {
		goCPU time.Duration
		pg    map[int]time.Duration
	}
	begin := func() usage {
		ta.reset()
		tb.reset()
		return usage{procCPU(os.Getpid()), pgBackendCPU(ctx, raw, app)}
	}
	use := func(phase string, u usage) {
		b.ReportMetric(float64(ta.calls()+tb.calls()), phase+"-store-calls")
		b.ReportMetric((procCPU(os.Getpid()) - u.goCPU).Seconds(), phase+"-go-cpu-s")
		if u.pg != nil {
			pg := cpuSince(u.pg, pgBackendCPU(ctx, raw, app))
			b.ReportMetric(pg.Seconds(), phase+"-pg-cpu-s")
		}
		b.Logf("%s: store calls a: %s", phase, ta)
		b.Logf("%s: store calls b: %s", phase, tb)
	}

	// dropAdded leaves the seed as it was: it drops the dockings a run
	// committed after the day (their segments, receipts, inventory,
	// docking messages and health snapshots) and gives their recorders
	// back their last docking of the day.
	dropAdded := func() {
		seq, n := fmt.Sprint(perRec), fmt.Sprint(seedNow.UnixNano())
		for _, q := range []string{
			`DELETE FROM ` + schema + `.segments WHERE seq > ` + seq,
			`DELETE FROM ` + schema + `.receipts WHERE seq > ` + seq,
			`DELETE FROM ` + schema + `.inventory WHERE seq > ` + seq,
			`DELETE FROM ` + schema + `.dockings WHERE docked_ns > ` + n,
			`DELETE FROM ` + schema + `.device_health WHERE docked_ns > ` + n,
			`UPDATE ` + schema + `.devices SET (last_dock, last_docked_ns, health) = (SELECT h.dock, h.docked_ns, h.body
				FROM ` + schema + `.device_health h WHERE h.serial = devices.serial ORDER BY h.docked_ns DESC LIMIT 1)
				WHERE last_docked_ns > ` + n,
		} {
			if _, err := raw.ExecContext(ctx, q); err != nil {
				b.Fatal(q, err)
			}
		}
	}

	for b.Loop() {
		// Reset the judgement: every recorder of the day due, no alert
		// (and nothing a cut-short run added).
		dropAdded()
		for _, q := range []string{`TRUNCATE ` + schema + `.alerts CASCADE`,
			`UPDATE ` + schema + `.analysis_work SET wake_ns = 0, gen = gen + 1, lease_owner = NULL, lease_until_ns = NULL`} {
			if _, err := raw.ExecContext(ctx, q); err != nil {
				b.Fatal(q, err)
			}
		}
		d.reset()

		// 1. The whole day, two analysers splitting it.
		u := begin()
		t0 := time.Now()
		var ja, jb int
		var wg sync.WaitGroup
		for _, x := range []struct {
			e *Engine
			n *int
		}{{ea, &ja}, {eb, &jb}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					r, err := x.e.PassReport(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					*x.n += len(r.Judged)
					if len(r.Judged) == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		day := time.Since(t0)
		b.ReportMetric(day.Seconds(), "day-s")
		b.ReportMetric(float64(ja+jb), "day-judged")
		b.ReportMetric(float64(len(d.at)), "day-alerts")
		b.ReportMetric(float64(d.dups()), "dup-alerts")
		b.Logf("day: %d recorders (%d by a, %d by b), %d segments in %s; %d alerts, %d delivered twice",
			ja+jb, ja, jb, recorders*perRec, day.Round(time.Millisecond), len(d.at), d.dups())
		use("day", u)

		// 2. A quiet pass.
		t0 = time.Now()
		r, err := ea.PassReport(ctx)
		if err != nil || len(r.Judged) != 0 {
			b.Fatalf("quiet pass judged %d (%v)", len(r.Judged), err)
		}
		b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "quiet-pass-ms")

		// 3. 1 % of the recorders dock again with 20 new segments each.
		changed := recorders / 100
		t0 = time.Now()
		// Recorders of the first shift (whose day ended 16 h ago): the
		// new footage follows theirs.
		commitDocking(ctx, b, sa, raw, schema, clock.Now(), shiftOf(0, 0, changed), perRec, 20, nil)
		b.ReportMetric(time.Since(t0).Seconds(), "commit-s")
		u = begin()
		t0 = time.Now()
		r, err = ea.PassReport(ctx)
		if err != nil || len(r.Judged) != changed {
			b.Fatalf("steady pass judged %d of %d (%v)", len(r.Judged), changed, err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "steady-pass-s")
		use("steady", u)
		b.ReportMetric(float64(changed*20), "steady-new-segments")

		// 4. Latency: a shift-change peak fed to two running analysers.
		// Each docking brings 5 segments, one missing: one hole alert.
		d.reset()
		runCtx, stop := context.WithCancel(ctx)
		var runs sync.WaitGroup
		for _, e := range []*Engine{ea, eb} {
			runs.Add(1)
			go func() { defer runs.Done(); e.Run(runCtx) }()
		}
		peak := envInt("BERTH_BENCH_PEAK", recorders/10)
		committed := map[string]time.Time{}
		step := max(1, peak/int(feed/time.Second+1))
		start := time.Now()
		for i := 0; i < peak; i += step {
			n := min(step, peak-i)
			idx := shiftOf(1, i, n) // the second shift's recorders, back 8 h ago
			at := commitDocking(ctx, b, sa, raw, schema, clock.Now(), idx, perRec, 5, []int{3})
			for _, k := range idx {
				committed[fmt.Sprintf("%s/%s/%d-%d", "sequence-hole", serialOf(k), perRec+3, perRec+3)] = at
			}
			if wait := start.Add(time.Duration(i+n) * feed / time.Duration(peak)).Sub(time.Now()); wait > 0 {
				time.Sleep(wait)
			}
		}
		deadline := time.Now().Add(2*every + 5*time.Minute)
		for d.count(committed) < len(committed) && time.Now().Before(deadline) {
			time.Sleep(time.Second)
		}
		stop()
		runs.Wait()
		var lat []time.Duration
		for k, c := range committed {
			if at, ok := d.get(k); ok {
				lat = append(lat, at.Sub(c))
			}
		}
		if len(lat) < len(committed) {
			b.Errorf("latency: %d of %d hole alerts delivered", len(lat), len(committed))
		}
		slices.Sort(lat)
		if len(lat) > 0 {
			b.ReportMetric(lat[len(lat)/2].Seconds(), "latency-p50-s")
			b.ReportMetric(lat[len(lat)*99/100].Seconds(), "latency-p99-s")
			b.Logf("latency over %d alerts (peak of %d dockings in %s, passes every %s): p50 %s p99 %s max %s; %d delivered twice",
				len(lat), peak, feed, every, lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond),
				lat[len(lat)-1].Round(time.Millisecond), d.dups())
		}
		b.ReportMetric(float64(d.dups()), "latency-dup-alerts")
		dropAdded()
	}
}

// commitDocking commits, through Commit, a docking at now of recorders
// recs: a health report, the inventory, segments first+1..first+count of
// each (but the skipped offsets, which the recorder lost) and the
// docking's end, each segment with its receipt (inserted with
// SQL in one statement per batch: receipts are not what is measured). It returns when the
// commit returned.
func commitDocking(ctx context.Context, b *testing.B, st *store.Store, raw *sql.DB, schema string, now time.Time, recs []int, first, count int,
	skip []int) time.Time {
	var batch []store.Incoming
	var rcpts []wire.Receipt
	msg := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// The collector's receipts, as its upload endpoint records them,
		// in one statement: the benchmark measures commits and judgement.
		if len(rcpts) > 0 {
			q := `INSERT INTO ` + schema + `.receipts (device, seq, object_id, sha256, size, stored_ns, key_id, signature, recorded_ns) VALUES `
			var args []any
			for i, r := range rcpts {
				if i > 0 {
					q += ", "
				}
				n := len(args)
				q += fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9)
				args = append(args, r.Device, int64(r.Seq), r.ObjectID, r.SHA256, r.Size, r.StoredAt.UnixNano(), r.KeyID, r.Signature,
					r.StoredAt.UnixNano())
			}
			if _, err := raw.ExecContext(ctx, q, args...); err != nil {
				b.Fatal(err)
			}
			rcpts = rcpts[:0]
		}
		if _, err := st.Commit(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	add := func(typ string, body any) {
		msg++
		e, err := wire.NewEnvelope(fmt.Sprintf("b%d-%d-%d", now.UnixNano(), recs[0], msg), "D00000", now, typ, body)
		if err != nil {
			b.Fatal(err)
		}
		db, err := wire.DecodeBody(e)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, store.Incoming{Env: e, Body: db})
		if len(batch) >= 500 {
			flush()
		}
	}
	for _, i := range recs {
		sn := serialOf(i)
		add(wire.TypeDeviceHealth, &wire.DeviceHealth{Serial: sn, Firmware: "2.4.1", Officer: "o" + strconv.Itoa(i), DockedAt: now,
			DockClock: now, DeviceClock: now, ClockSet: true, Battery: wire.Battery{Percent: 90, HealthPct: 90},
			Storage: wire.Storage{TotalBytes: 1 << 36, FreeBytes: 1 << 35, HealthPct: 95}})
		// As a dock does: the inventory (what the recorder holds: the
		// skipped segments are lost) before copying, the segments, then
		// the docking's end.
		var inv []wire.InventoryEntry
		var manifests []*wire.SegmentManifest
		for k := 1; k <= count; k++ {
			if slices.Contains(skip, k) {
				continue
			}
			seq := uint64(first + k)
			start := now.Add(-time.Duration(count-k+1) * 10 * time.Minute)
			sha := fmt.Sprintf("%032x%032x", i, seq)
			inv = append(inv, wire.InventoryEntry{Seq: seq, Start: start, End: start.Add(10 * time.Minute), Size: 1000, SHA256: sha,
				StopCause: wire.StopAutoSplit})
			r := wire.Receipt{ObjectID: "sha256-" + sha, Device: sn, Seq: seq, SHA256: sha, Size: 1000, StoredAt: now, KeyID: "k", Signature: "s"}
			rcpts = append(rcpts, r)
			manifests = append(manifests, &wire.SegmentManifest{Serial: sn, Seq: seq, Start: start, End: start.Add(10 * time.Minute),
				Size: 1000, SHA256: sha, StopCause: wire.StopAutoSplit, Officer: "o" + strconv.Itoa(i), State: wire.SegUploaded,
				Receipt: &r, ClockSyncedAt: now})
		}
		last := uint64(first + count)
		add(wire.TypeDocking, &wire.Docking{Serial: sn, DockedAt: now, Phase: wire.DockingInventory, LastSeq: last, Part: 1, Parts: 1,
			Segments: inv})
		for _, m := range manifests {
			add(wire.TypeSegmentManifest, m)
		}
		add(wire.TypeDocking, &wire.Docking{Serial: sn, DockedAt: now, Phase: wire.DockingComplete, LastSeq: last, Part: 1, Parts: 1,
			Copied: len(manifests)})
	}
	flush()
	return time.Now()
}

func serialOf(i int) string { return fmt.Sprintf("R%06d", i) }

// shiftOf returns the from-th to (from+n-1)-th recorders of shift k.
func shiftOf(k, from, n int) []int {
	out := make([]int, n)
	for j := range out {
		out[j] = 3*(from+j) + k
	}
	return out
}

// seedDay fills the schema with the day unless it holds it already, and
// returns the end of the day (kept in bench_meta).
func seedDay(ctx context.Context, b *testing.B, db *sql.DB, s string, recorders, per int) (time.Time, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+s+`.bench_meta (k TEXT PRIMARY KEY, v BIGINT NOT NULL)`); err != nil {
		return time.Time{}, err
	}
	var end int64
	err := db.QueryRowContext(ctx, `SELECT v FROM `+s+`.bench_meta WHERE k = 'seeded'`).Scan(&end)
	if err == nil {
		return time.Unix(0, end).UTC(), nil
	}
	if err != sql.ErrNoRows {
		return time.Time{}, err
	}
	now := time.Now().Truncate(time.Hour)
	n := now.UnixNano()
	const hour = int64(time.Hour)
	docks := max(1, recorders/10)
	// Recorder i works shift i%3: 8 h ending 16 h, 8 h or 0 h before the
	// end of the day, recording per segments back to back, and docks at
	// its end (the shift-change peak: receipts and commits then). 1 % of
	// the recorders (i%100 == 7) lost segment 10: a hole.
	shiftEnd := fmt.Sprintf("(%d - (2 - i %% 3) * 8 * %d)", n, hour)
	segLen := 8 * hour / int64(per)
	steps := []struct{ table, q string }{
		{"docks", fmt.Sprintf(`INSERT INTO %s.docks (id, unit, enrolled, enrolled_ns, last_seen_ns, state, version, slot_count, buffer_bytes,
			buffer_capacity, state_ns) SELECT 'D'||lpad(i::text, 5, '0'), 'u'||lpad((i %% 1000)::text, 4, '0'), true, %d, %d, 'online', '1.0',
			10, 0, 1 << 34, %d FROM generate_series(0, %d) i`, s, n, n, n, docks-1)},
		{"devices", fmt.Sprintf(`INSERT INTO %s.devices (serial, model, firmware, officer, unit, last_dock, last_docked_ns, health)
			SELECT 'R'||lpad(i::text, 6, '0'), 'BWC-7', '2.4.1', 'o'||i, 'u'||lpad(((i / 10) %% 1000)::text, 4, '0'),
			'D'||lpad((i / 10)::text, 5, '0'), %[2]s,
			'{"serial":"R'||lpad(i::text, 6, '0')||'","firmware":"2.4.1","slot":'||(i %% 10)||',"docked_at":"2026-12-01T00:00:00Z","battery":{"mv":4000,"percent":90,"health_pct":90,"cycles":100,"temperature_c":30,"charging":false},"storage":{"total_bytes":68719476736,"free_bytes":34359738368,"health_pct":95,"read_errors":0,"write_errors":0,"bad_blocks":0},"recording":false,"device_clock":"2026-12-01T00:00:00Z","dock_clock":"2026-12-01T00:00:00Z","clock_offset_ms":0,"clock_set":true}'
			FROM generate_series(0, %[3]d) i`, s, shiftEnd, recorders-1)},
		{"segments", fmt.Sprintf(`INSERT INTO %[1]s.segments (serial, seq, dock, msg_id, start_ns, end_ns, clock_offset_ms, corr_start_ns, corr_end_ns,
			size, sha256, stop_cause, officer, state, claim, first_seen_ns, reported_ns, updated_ns)
			SELECT 'R'||lpad(i::text, 6, '0'), k, 'D'||lpad((i / 10)::text, 5, '0'), 'm',
			%[2]s - 8 * %[3]d + (k - 1) * %[4]d, %[2]s - 8 * %[3]d + k * %[4]d, 0,
			%[2]s - 8 * %[3]d + (k - 1) * %[4]d, %[2]s - 8 * %[3]d + k * %[4]d,
			1000000, md5(i::text || '/' || k::text) || md5(k::text || '/' || i::text), 'auto-split', 'o'||i, 'uploaded', '{}',
			%[2]s, %[2]s, %[2]s
			FROM generate_series(0, %[5]d) i, generate_series(1, %[6]d) k WHERE NOT (i %% 100 = 7 AND k = 10)`,
			s, shiftEnd, hour, segLen, recorders-1, per)},
		{"receipts", fmt.Sprintf(`INSERT INTO %[1]s.receipts (device, seq, object_id, sha256, size, stored_ns, key_id, signature, recorded_ns)
			SELECT serial, seq, 'sha256-'||sha256, sha256, size, updated_ns, 'k', 's', updated_ns FROM %[1]s.segments`, s)},
		// What the dock reported of each docking: the health snapshot,
		// the inventory (what the recorder held: the lost segment is not
		// in it) and the inventory and complete messages.
		{"device_health", fmt.Sprintf(`INSERT INTO %[1]s.device_health (serial, docked_ns, dock, slot, msg_id, firmware, officer,
			battery_mv, battery_pct, battery_health_pct, battery_cycles, battery_temp_c, storage_total, storage_free,
			storage_health_pct, storage_errors, bad_blocks, device_clock_ns, dock_clock_ns, clock_offset_ms, clock_set, body)
			SELECT serial, last_docked_ns, last_dock, 0, 'h', firmware, officer, 4000, 90, 90, 100, 30, 68719476736, 34359738368,
			95, 0, 0, last_docked_ns, last_docked_ns, 0, true,
			jsonb_set(jsonb_set(jsonb_set(health::jsonb, '{docked_at}', to_jsonb(%[2]s)), '{dock_clock}', to_jsonb(%[2]s)),
				'{device_clock}', to_jsonb(%[2]s))::text
			FROM %[1]s.devices`, s, `to_char(to_timestamp(last_docked_ns / 1e9) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`)},
		{"inventory", fmt.Sprintf(`INSERT INTO %[1]s.inventory (serial, seq, docked_ns, start_ns, end_ns, size, sha256, stop_cause, received_ns)
			SELECT serial, seq, first_seen_ns, start_ns, end_ns, size, sha256, stop_cause, first_seen_ns FROM %[1]s.segments`, s)},
		// Each recorder's longest segment and inventory span (migration
		// 0015): what Commit keeps, for the bounded history reads.
		{"recorder_spans", fmt.Sprintf(`INSERT INTO %[1]s.recorder_spans (serial, segment_ns, inventory_ns)
			SELECT serial, MAX(corr_end_ns - corr_start_ns), MAX(end_ns - start_ns) FROM %[1]s.segments GROUP BY serial`, s)},
		{"dockings", fmt.Sprintf(`INSERT INTO %[1]s.dockings (serial, docked_ns, phase, part, parts, dock, last_seq, recording, copied, received_ns)
			SELECT serial, last_docked_ns, p.phase, 1, 1, last_dock, %[2]d, false, CASE WHEN p.phase = 'complete' THEN %[2]d ELSE 0 END,
			last_docked_ns FROM %[1]s.devices, (VALUES ('inventory'), ('complete')) AS p(phase)`, s, per)},
		{"analysis_work", fmt.Sprintf(`INSERT INTO %[1]s.analysis_work (serial, gen, wake_ns) SELECT serial, 1, 0 FROM %[1]s.devices`, s)},
	}
	for _, st := range steps {
		t0 := time.Now()
		if _, err := db.ExecContext(ctx, `TRUNCATE `+s+`.`+st.table+` CASCADE`); err != nil {
			return time.Time{}, err
		}
		if _, err := db.ExecContext(ctx, st.q); err != nil {
			return time.Time{}, fmt.Errorf("seed %s: %w", st.table, err)
		}
		if _, err := db.ExecContext(ctx, `ANALYZE `+s+`.`+st.table); err != nil {
			return time.Time{}, err
		}
		b.Logf("seeded %s in %s", st.table, time.Since(t0).Round(time.Millisecond))
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO `+s+`.bench_meta (k, v) VALUES ('seeded', $1)`, n); err != nil {
		return time.Time{}, err
	}
	return now.UTC(), nil
}

// offsetClock is the real clock shifted by off.
type offsetClock struct {
	clockwork.Clock
	off time.Duration
}

func (c offsetClock) Now() time.Time { return c.Clock.Now().Add(c.off) }

// timedDeliveries records when each alert was first delivered and how
// often.
type timedDeliveries struct {
	mu sync.Mutex
	at map[string]time.Time
	n  map[string]int
}

func (d *timedDeliveries) Deliver(_ context.Context, a alert.Alert) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a.State == store.AlertClosed {
		return nil // a withdrawal
	}
	if _, ok := d.at[a.Key]; !ok {
		d.at[a.Key] = time.Now()
	}
	d.n[a.Key]++
	return nil
}

func (d *timedDeliveries) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.at, d.n = map[string]time.Time{}, map[string]int{}
}

func (d *timedDeliveries) dups() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.n {
		if c > 1 {
			n++
		}
	}
	return n
}

func (d *timedDeliveries) get(k string) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.at[k]
	return t, ok
}

func (d *timedDeliveries) count(keys map[string]time.Time) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for k := range keys {
		if _, ok := d.at[k]; ok {
			n++
		}
	}
	return n
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDur(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
