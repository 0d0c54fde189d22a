package analysis

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/berthdock/berth/cloud/store"
)

// tStore adds up, per call, the time the engine spends in the store, for
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
func (s *tStore) Segments(ctx context.Context, a string, f, t time.Time) ([]store.Segment, error) {
	defer s.rec("segments", time.Now())
	return s.Store.Segments(ctx, a, f, t)
}
func (s *tStore) Inventory(ctx context.Context, a string, f, t time.Time) ([]store.Inventoried, error) {
	defer s.rec("inventory", time.Now())
	return s.Store.Inventory(ctx, a, f, t)
}
func (s *tStore) Dockings(ctx context.Context, a string) (store.DockingSummary, bool, error) {
	defer s.rec("dockings", time.Now())
	return s.Store.Dockings(ctx, a)
}
func (s *tStore) DeviceHealth(ctx context.Context, a string, f, t time.Time) ([]store.HealthRecord, error) {
	defer s.rec("health", time.Now())
	return s.Store.DeviceHealth(ctx, a, f, t)
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
func (s *tStore) Judged(ctx context.Context, o string, w []store.Judgement) error {
	defer s.rec("judged", time.Now())
	return s.Store.Judged(ctx, o, w)
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
func (s *tStore) Unannounced(ctx context.Context, n int) ([]store.Alert, error) {
	defer s.rec("unannounced", time.Now())
	return s.Store.Unannounced(ctx, n)
}
