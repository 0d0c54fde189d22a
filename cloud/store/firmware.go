package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// firmware writes the batch's firmware.progress reports: per (campaign,
// serial), the newest by its time.
func (w *writer) firmware(ctx context.Context) error {
	latest := map[[2]string][]any{}
	for _, i := range w.fresh {
		b, ok := w.msgs[i].Body.(*wire.FirmwareProgress)
		if !ok {
			continue
		}
		k := [2]string{b.Campaign, b.Serial}
		r := []any{b.Campaign, b.Serial, w.msgs[i].Env.Dock, int64(b.Slot), b.Model, b.Version, b.Running, b.State,
			b.Held, b.Size, b.Detail, b.At.UnixNano(), w.now}
		// One statement may not touch a row twice (PostgreSQL).
		if old, ok := latest[k]; !ok || old[11].(int64) <= r[11].(int64) {
			latest[k] = r
		}
	}
	rows := make([][]any, 0, len(latest))
	for _, r := range latest {
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b []any) int {
		return cmp.Or(cmp.Compare(a[0].(string), b[0].(string)), cmp.Compare(a[1].(string), b[1].(string)))
	})
	return w.s.multi(ctx, w.tx, "firmware_progress", `campaign TEXT, serial TEXT, dock TEXT, slot BIGINT, model TEXT,
		version TEXT, running TEXT, state TEXT, held BIGINT, size BIGINT, detail TEXT, at_ns BIGINT, received_ns BIGINT`,
		`ON CONFLICT (campaign, serial) DO UPDATE SET dock = excluded.dock, slot = excluded.slot, model = excluded.model,
			version = excluded.version, running = excluded.running, state = excluded.state, held = excluded.held,
			size = excluded.size, detail = excluded.detail, at_ns = excluded.at_ns, received_ns = excluded.received_ns
			WHERE excluded.at_ns >= firmware_progress.at_ns`, rows, nil)
}

// FirmwareRecorder is one recorder's latest firmware report in a campaign.
type FirmwareRecorder struct {
	Campaign string
	Serial   string
	Dock     string
	Slot     int
	Model    string
	Version  string
	Running  string
	State    string
	Held     int64
	Size     int64
	Detail   string
	At       time.Time
	Received time.Time
}

// FirmwareProgress lists a campaign's recorders by serial, with their
// latest report.
func (s *Store) FirmwareProgress(ctx context.Context, campaign string) ([]FirmwareRecorder, error) {
	rows, err := s.db.QueryContext(ctx, s.d.q(`SELECT campaign, serial, dock, slot, model, version, running, state, held, size,
		detail, at_ns, received_ns FROM firmware_progress WHERE campaign = ? ORDER BY serial`), campaign)
	if err != nil {
		return nil, fmt.Errorf("store: firmware progress: %w", err)
	}
	defer rows.Close()
	var out []FirmwareRecorder
	for rows.Next() {
		var r FirmwareRecorder
		var at, recv int64
		if err := rows.Scan(&r.Campaign, &r.Serial, &r.Dock, &r.Slot, &r.Model, &r.Version, &r.Running, &r.State, &r.Held,
			&r.Size, &r.Detail, &at, &recv); err != nil {
			return nil, fmt.Errorf("store: firmware progress: %w", err)
		}
		r.At, r.Received = time.Unix(0, at).UTC(), time.Unix(0, recv).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: firmware progress: %w", err)
	}
	return out, nil
}
