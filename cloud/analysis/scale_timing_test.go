package analysis

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthdock/berth/cloud/store"
)

// tStore adds up, per call, the time the engine spends in the store and
// how often it calls it (every call the engine makes: a count that does
// not depend on how busy the machine is), for
// BenchmarkAnalysisDesignScale's breakdown.
type tStore struct {
	*store.Store
	mu sync.Mutex
	t  map[string]time.Duration
	n  map[string]int
}

func (s *tStore) rec(name string, t0 time.Time) {
	s.mu.Lock()
	if s.t == nil {
		s.t, s.n = map[string]time.Duration{}, map[string]int{}
	}
	s.t[name] += time.Since(t0)
	s.n[name]++
	s.mu.Unlock()
}
func (s *tStore) reset() {
	s.mu.Lock()
	s.t, s.n = nil, nil
	s.mu.Unlock()
}
func (s *tStore) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.n {
		n += c
	}
	return n
}
func (s *tStore) String() string {
	var ks []string
	for k := range s.t {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	out := ""
	for _, k := range ks {
		out += fmt.Sprintf("%s %d %s; ", k, s.n[k], s.t[k])
	}
	return out
}
func (s *tStore) SegmentsOf(ctx context.Context, a []store.Span) (map[string][]store.Segment, error) {
	defer s.rec("segments", time.Now())
	return s.Store.SegmentsOf(ctx, a)
}
func (s *tStore) InventoryOf(ctx context.Context, a []store.Span) (map[string][]store.Inventoried, error) {
	defer s.rec("inventory", time.Now())
	return s.Store.InventoryOf(ctx, a)
}
func (s *tStore) DockingsOf(ctx context.Context, a []string) (map[string]store.DockingSummary, error) {
	defer s.rec("dockings", time.Now())
	return s.Store.DockingsOf(ctx, a)
}
func (s *tStore) DeviceHealthOf(ctx context.Context, a []store.Span) (map[string][]store.HealthRecord, error) {
	defer s.rec("health", time.Now())
	return s.Store.DeviceHealthOf(ctx, a)
}
func (s *tStore) RecorderEventsOf(ctx context.Context, a []store.Span) (map[string][]store.RecorderEvent, error) {
	defer s.rec("events", time.Now())
	return s.Store.RecorderEventsOf(ctx, a)
}
func (s *tStore) AssignmentsOf(ctx context.Context, a []store.Span) (map[string][]store.Assignment, error) {
	defer s.rec("assignments", time.Now())
	return s.Store.AssignmentsOf(ctx, a)
}
func (s *tStore) LiveAlertsOf(ctx context.Context, a []string) (map[string][]store.Alert, error) {
	defer s.rec("livealerts", time.Now())
	return s.Store.LiveAlertsOf(ctx, a)
}
func (s *tStore) AlertsByKeys(ctx context.Context, k []string) (map[string]store.Alert, error) {
	defer s.rec("alertsbykeys", time.Now())
	return s.Store.AlertsByKeys(ctx, k)
}
func (s *tStore) Alerts(ctx context.Context, f store.AlertFilter) ([]store.Alert, error) {
	defer s.rec("alerts", time.Now())
	return s.Store.Alerts(ctx, f)
}
func (s *tStore) AlertByKey(ctx context.Context, k string) (store.Alert, bool, error) {
	defer s.rec("alertbykey", time.Now())
	return s.Store.AlertByKey(ctx, k)
}
func (s *tStore) UpsertAlert(ctx context.Context, a store.Alert) (bool, error) {
	defer s.rec("upsert", time.Now())
	return s.Store.UpsertAlert(ctx, a)
}
func (s *tStore) UpsertAlerts(ctx context.Context, as []store.Alert) ([]bool, error) {
	defer s.rec("upsert", time.Now())
	return s.Store.UpsertAlerts(ctx, as)
}
func (s *tStore) ClaimAnnouncements(ctx context.Context, k []string) (map[string]bool, error) {
	defer s.rec("announce", time.Now())
	return s.Store.ClaimAnnouncements(ctx, k)
}
func (s *tStore) CloseAlert(ctx context.Context, id int64, by string) error {
	defer s.rec("close", time.Now())
	return s.Store.CloseAlert(ctx, id, by)
}
func (s *tStore) ClaimAnnouncement(ctx context.Context, k string) (bool, error) {
	defer s.rec("announce", time.Now())
	return s.Store.ClaimAnnouncement(ctx, k)
}
func (s *tStore) Judged(ctx context.Context, o string, w []store.Judgement) error {
	defer s.rec("judged", time.Now())
	return s.Store.Judged(ctx, o, w)
}
func (s *tStore) RetryWork(ctx context.Context, o, sn string, at time.Time) error {
	defer s.rec("retry", time.Now())
	return s.Store.RetryWork(ctx, o, sn, at)
}
func (s *tStore) ClaimWork(ctx context.Context, o string, l time.Duration, n int) ([]store.Work, error) {
	defer s.rec("claim", time.Now())
	return s.Store.ClaimWork(ctx, o, l, n)
}
func (s *tStore) DevicesOf(ctx context.Context, a []string) ([]store.Device, error) {
	defer s.rec("devicesof", time.Now())
	return s.Store.DevicesOf(ctx, a)
}
func (s *tStore) LateArrivalsOf(ctx context.Context, a []string, f, t time.Time) (map[string]time.Time, error) {
	defer s.rec("late", time.Now())
	return s.Store.LateArrivalsOf(ctx, a, f, t)
}
func (s *tStore) Docks(ctx context.Context) ([]store.Dock, error) {
	defer s.rec("docks", time.Now())
	return s.Store.Docks(ctx)
}
func (s *tStore) Slots(ctx context.Context, d string) ([]store.Slot, error) {
	defer s.rec("slots", time.Now())
	return s.Store.Slots(ctx, d)
}
func (s *tStore) AuditBreaks(ctx context.Context) ([]store.AuditBreak, error) {
	defer s.rec("auditbreaks", time.Now())
	return s.Store.AuditBreaks(ctx)
}
func (s *tStore) Unannounced(ctx context.Context, n int) ([]store.Alert, error) {
	defer s.rec("unannounced", time.Now())
	return s.Store.Unannounced(ctx, n)
}

func (s *tStore) EscalateOnce(ctx context.Context, id int64, l int) (bool, error) {
	defer s.rec("escalate", time.Now())
	return s.Store.EscalateOnce(ctx, id, l)
}

// procCPU is a process's user+system CPU time from /proc (0 if unknown).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces), from field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// pgBackendCPU maps each PostgreSQL backend serving connections named app
// to its CPU time so far; nil if PostgreSQL is not on this machine (its
// backends' /proc entries unreadable).
func pgBackendCPU(ctx context.Context, db *sql.DB, app string) map[int]time.Duration {
	rs, err := db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		return nil
	}
	defer rs.Close()
	out := map[int]time.Duration{}
	for rs.Next() {
		var pid int
		if rs.Scan(&pid) != nil {
			return nil
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
			return nil
		}
		out[pid] = procCPU(pid)
	}
	if rs.Err() != nil {
		return nil
	}
	return out
}

// cpuSince is the CPU time the backends of after spent since before.
func cpuSince(before, after map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, t := range after {
		d += t - before[pid]
	}
	return d
}
