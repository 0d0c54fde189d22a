package console

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for seeding

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
)

// Scale of the design's plan: 100k recorders, 10k docks (4 slots each),
// 2M segments, in 1,000 units, every recorder enrolled; one alert per
// recorder.
const (
	scaleRecorders = 100_000
	scaleDocks     = 10_000
	scaleSegments  = 20 // per recorder: 2M
	scaleUnits     = 1_000
	scaleSchema    = "bench_console_scale"
)

// BenchmarkConsoleAtScale measures the console's pages and API lists on
// PostgreSQL at the design's scale, as a supervisor, a custodian (one
// unit: ~100 recorders, 10 docks) and an admin (every unit) see them, and
// reports p50 and p95 per request. It needs BERTH_PG_DSN and
// BERTH_BENCH_SCALE=1 (seeding takes minutes; the schema is kept and
// reused by later runs).
//
//	BERTH_BENCH_SCALE=1 BERTH_PG_DSN=postgres://... go test -run '^$' -bench ConsoleAtScale -benchtime 50x ./cloud/console/
func BenchmarkConsoleAtScale(b *testing.B) {
	dsn := os.Getenv("BERTH_PG_DSN")
	if dsn == "" || os.Getenv("BERTH_BENCH_SCALE") == "" {
		b.Skip("set BERTH_PG_DSN and BERTH_BENCH_SCALE=1")
	}
	ctx := context.Background()
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+scaleSchema); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(ctx, dsn, &store.Opts{Logger: log, Schema: scaleSchema})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := seedScale(ctx, b, raw); err != nil {
		b.Fatal(err)
	}
	// Statistics for indexes a migration added since the seeding (as
	// autovacuum would gather).
	if _, err := raw.ExecContext(ctx, `ANALYZE `+scaleSchema+`.alerts`); err != nil {
		b.Fatal(err)
	}
	ev, err := evidence.OpenFS(filepath.Join(b.TempDir(), "ev"), log)
	if err != nil {
		b.Fatal(err)
	}
	dir, _ := people.New(st, people.Opts{Hasher: &cheap})
	c, err := New(Opts{Store: st, People: dir, Footage: ev, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	tokens := map[string]string{}
	for name, p := range map[string]store.Person{
		"sup":    {Name: "sup", Role: people.RoleSupervisor, Units: []string{"u0001"}},
		"keeper": {Name: "keeper", Role: people.RoleCustodian, Units: []string{"u0001"}},
		"admin":  {Name: "admin", Role: people.RoleAdmin},
	} {
		if err := dir.Add(ctx, p, "", "bench"); err != nil {
			b.Fatal(err)
		}
		if tokens[name], err = dir.IssueToken(ctx, name, "bench", 0); err != nil {
			b.Fatal(err)
		}
	}
	var alertID int64
	if err := raw.QueryRowContext(ctx, `SELECT id FROM `+scaleSchema+`.alerts WHERE unit = 'u0001' AND state = 'open' ORDER BY id LIMIT 1`).Scan(&alertID); err != nil {
		b.Fatal(err)
	}
	// A deep page of the admin's inbox: the cursor of the 20,000th open
	// alert in the inbox's order.
	deep, err := st.Alerts(ctx, store.AlertFilter{State: store.AlertOpen, BySeverity: true, Limit: 20_000})
	if err != nil || len(deep) < 20_000 {
		b.Fatalf("deep cursor: %d alerts, %v", len(deep), err)
	}
	after := cursorOf(deep[len(deep)-1])
	for _, tc := range []struct{ name, who, path string }{
		{"inbox", "sup", "/inbox"},
		{"alert-page", "sup", fmt.Sprintf("/alerts/%d", alertID)},
		{"fleet", "keeper", "/fleet"},
		{"api-alerts", "sup", "/api/alerts"},
		{"api-recorders", "keeper", "/api/recorders"},
		{"api-docks", "keeper", "/api/docks"},
		{"inbox-admin", "admin", "/inbox"},
		{"inbox-admin-page-201", "admin", "/inbox?after=" + after},
		{"inbox-admin-officer", "admin", "/inbox?officer=o4242&state=all"},
		{"alert-page-admin", "admin", fmt.Sprintf("/alerts/%d", alertID)},
		{"fleet-admin", "admin", "/fleet"},
		{"fleet-admin-unit", "admin", "/fleet?unit=u0500"},
		{"fleet-admin-docks", "admin", "/fleet?after_dock="},
		{"admin-registry", "admin", "/admin"},
		{"admin-registry-deep", "admin", "/admin?after_dock=D05000&after_recorder=R050000"},
		{"api-registry", "admin", "/api/admin/registry"},
		{"api-alerts-admin", "admin", "/api/alerts"},
		{"api-alerts-admin-all-states", "admin", "/api/alerts?state=all"},
		{"api-recorders-admin", "admin", "/api/recorders"},
		{"api-recorders-admin-page-251", "admin", "/api/recorders?after=R050000"},
		{"api-docks-admin", "admin", "/api/docks"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
				req.Header.Set("Authorization", "Bearer "+tokens[tc.who])
				t0 := time.Now()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %s", tc.path, resp.Status)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// seedScale fills each table with generate_series unless it holds its
// full count already (a run interrupted half-way resumes).
func seedScale(ctx context.Context, b *testing.B, db *sql.DB) error {
	now := time.Now().UnixNano()
	s := scaleSchema
	steps := []struct {
		table string
		want  int
		q     string
	}{
		{"docks", scaleDocks, fmt.Sprintf(`INSERT INTO %s.docks (id, unit, enrolled, enrolled_ns, last_seen_ns, state, version, slot_count, buffer_bytes,
			buffer_capacity, state_ns) SELECT 'D'||lpad(i::text, 5, '0'), 'u'||lpad((i %% %d)::text, 4, '0'), true, %d, %d, 'online', '1.0',
			4, i * 1000, 1 << 34, %d FROM generate_series(0, %d) i`, s, scaleUnits, now, now, now, scaleDocks-1)},
		{"units", scaleUnits, fmt.Sprintf(`INSERT INTO %s.units (id, name, custodian, enrolled_by, enrolled_ns)
			SELECT 'u'||lpad(i::text, 4, '0'), 'Section '||i, 'keeper', 'bench', %d FROM generate_series(0, %d) i`, s, now, scaleUnits-1)},
		// The enrolment registry: every recorder enrolled to the unit it
		// reports (one Ed25519 public key stands for all).
		{"recorders", scaleRecorders, fmt.Sprintf(`INSERT INTO %s.recorders (serial, unit, public_key, enrolled_by, enrolled_ns)
			SELECT 'R'||lpad(i::text, 6, '0'), 'u'||lpad((i %% %d)::text, 4, '0'), 'O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=',
			'bench', %d FROM generate_series(0, %d) i`, s, scaleUnits, now, scaleRecorders-1)},
		{"slots", scaleDocks * 4, fmt.Sprintf(`INSERT INTO %s.slots (dock, slot, state, serial, updated_ns) SELECT d.id, k, 'ready', '', %d
			FROM %s.docks d, generate_series(0, 3) k`, s, now, s)},
		{"devices", scaleRecorders, fmt.Sprintf(`INSERT INTO %s.devices (serial, model, firmware, officer, unit, last_dock, last_docked_ns, health)
			SELECT 'R'||lpad(i::text, 6, '0'), 'BWC-7', '2.4.1', 'o'||i, 'u'||lpad((i %% %d)::text, 4, '0'),
			'D'||lpad((i %% %d)::text, 5, '0'), %d,
			'{"serial":"R'||lpad(i::text, 6, '0')||'","firmware":"2.4.1","slot":'||(i %% 4)||',"docked_at":"2026-12-01T00:00:00Z","battery":{"mv":4000,"percent":90,"health_pct":'||(60 + i %% 40)||',"cycles":'||(i %% 900)||',"temperature_c":30,"charging":false},"storage":{"total_bytes":68719476736,"free_bytes":34359738368,"health_pct":95,"read_errors":0,"write_errors":0,"bad_blocks":0},"recording":false,"device_clock":"2026-12-01T00:00:00Z","dock_clock":"2026-12-01T00:00:00Z","clock_offset_ms":'||(i %% 3000)||',"clock_set":true}'
			FROM generate_series(0, %d) i`, s, scaleUnits, scaleDocks, now, scaleRecorders-1)},
		{"segments", scaleRecorders * scaleSegments, fmt.Sprintf(`INSERT INTO %s.segments (serial, seq, dock, msg_id, start_ns, end_ns, clock_offset_ms, corr_start_ns, corr_end_ns,
			size, sha256, stop_cause, officer, state, claim, first_seen_ns, reported_ns, updated_ns)
			SELECT 'R'||lpad(i::text, 6, '0'), k, 'D'||lpad((i %% %d)::text, 5, '0'), 'm', %d - (21 - k) * 1800000000000,
			%d - (21 - k) * 1800000000000 + 600000000000, 0, %d - (21 - k) * 1800000000000,
			%d - (21 - k) * 1800000000000 + 600000000000, 1000000, md5(i::text || k::text), 'auto-split', 'o'||i, 'uploaded', '{}', %d, %d, %d
			FROM generate_series(0, %d) i, generate_series(1, %d) k`, s, scaleDocks, now, now, now, now, now, now, now,
			scaleRecorders-1, scaleSegments)},
		// Each recorder's longest segment (migration 0015): what Commit
		// keeps, for the bounded history reads.
		{"recorder_spans", scaleRecorders, fmt.Sprintf(`INSERT INTO %[1]s.recorder_spans (serial, segment_ns)
			SELECT serial, MAX(corr_end_ns - corr_start_ns) FROM %[1]s.segments GROUP BY serial`, s)},
		{"alerts", scaleRecorders, fmt.Sprintf(`INSERT INTO %s.alerts (dedup_key, kind, severity, unit, officer, serial, seq, dock, title, detail, at_ns, state,
			opened_ns, updated_ns, escalation, evidence)
			SELECT 'k'||i, (ARRAY['interruption-unexplained','battery-worn','sequence-hole','clock-drift'])[1 + i %% 4],
			(ARRAY['warning','warning','critical','info'])[1 + i %% 4], 'u'||lpad((i %% %d)::text, 4, '0'), 'o'||i,
			'R'||lpad(i::text, 6, '0'), 10, 'D'||lpad((i %% %d)::text, 5, '0'), 'title '||i, 'detail', %d - i::bigint * 1000000000,
			(ARRAY['open','open','open','acknowledged','closed'])[1 + i %% 5], %d - i::bigint * 1000000000, %d, 0, '{}'
			FROM generate_series(0, %d) i`, s, scaleUnits, scaleDocks, now, now, now, scaleRecorders-1)},
	}
	for _, st := range steps {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+s+`.`+st.table).Scan(&n); err != nil {
			return err
		}
		if n >= st.want {
			continue
		}
		t0 := time.Now()
		if _, err := db.ExecContext(ctx, `TRUNCATE `+s+`.`+st.table+` CASCADE`); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, st.q); err != nil {
			return fmt.Errorf("seed %s: %w", st.table, err)
		}
		// As autovacuum leaves a table that has settled: statistics and
		// the visibility map (index-only scans).
		if _, err := db.ExecContext(ctx, `VACUUM ANALYZE `+s+`.`+st.table); err != nil {
			return err
		}
		b.Logf("seeded %s (%d rows) in %s", st.table, st.want, time.Since(t0).Round(time.Millisecond))
	}
	return nil
}
